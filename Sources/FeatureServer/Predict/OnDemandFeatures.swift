/// Model inputs computed from the transaction itself, as `training/features.py` defines them
/// (the definitions the model was trained with). NaN marks a missing value.
enum OnDemandFeature: String, CaseIterable, Sendable {
  case amount
  /// (amount − avg_txn_amount_30d) / max(std_txn_amount_30d, 1); NaN without the statistics.
  case amountZScore = "amount_zscore"
  /// transactions_last_hour / 4.
  case velocityRatio = "tx_velocity_ratio"
  /// 1 for crypto and wire_transfer merchants (the request's category, else the stored one).
  case isHighRiskMerchant = "is_high_risk_merchant"
  /// 1 when the UTC hour is 0–5.
  case isOddHour = "is_odd_hour"
  /// How many of five risk factors hold: z-score > 3, odd hour, high-risk merchant, unknown
  /// device, location mismatch (a missing input counts 0).
  case riskScoreRaw = "risk_score_raw"
  case deviceKnown = "device_known"
  case locationMatch = "location_match"

  static let highRiskCategories: Set<String> = ["crypto", "wire_transfer"]

  /// Every on-demand value of `request`, indexed by case order.
  static func compute(
    _ request: PredictRequest, customerMean: Double, customerStd: Double, storedCategory: String?,
    into values: inout [Double]
  ) {
    let zScore =
      customerMean.isNaN || customerStd.isNaN ? Double.nan : (request.amount - customerMean) / max(customerStd, 1)
    let velocity = request.transactionsLastHour.map { Double($0) / 4 } ?? .nan
    let category = request.merchantCategory.flatMap { $0.isEmpty ? nil : $0 } ?? storedCategory
    let highRisk = category.map { highRiskCategories.contains($0) ? 1.0 : 0.0 } ?? .nan
    // Floor division: a time before 1970 is still an hour of 0–23 (23:59:59 on 1969-12-31 is
    // hour 23, not 0 or -1).
    let hours = request.timestamp >= 0 ? request.timestamp / 3600 : (request.timestamp - 3599) / 3600
    let hour = (hours % 24 + 24) % 24
    let oddHour = hour < 6 ? 1.0 : 0.0
    let device = request.deviceKnown.map { $0 ? 1.0 : 0.0 } ?? .nan
    let location = request.locationMatch.map { $0 ? 1.0 : 0.0 } ?? .nan
    var factors = 0.0
    if zScore > 3 { factors += 1 }
    if oddHour == 1 { factors += 1 }
    if highRisk == 1 { factors += 1 }
    if device == 0 { factors += 1 }
    if location == 0 { factors += 1 }
    // In case order.
    values.removeAll(keepingCapacity: true)
    values.append(request.amount)
    values.append(zScore)
    values.append(velocity)
    values.append(highRisk)
    values.append(oddHour)
    values.append(factors)
    values.append(device)
    values.append(location)
  }

  /// Position of each case in `compute`'s output.
  static let positions: [OnDemandFeature: Int] = Dictionary(
    uniqueKeysWithValues: allCases.enumerated().map { ($1, $0) })
  static let amountZScoreIndex = positions[.amountZScore] ?? 1
  static let highRiskIndex = positions[.isHighRiskMerchant] ?? 3
}
