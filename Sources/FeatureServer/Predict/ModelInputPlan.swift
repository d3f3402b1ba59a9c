/// The entities a prediction reads, in slot order: the ids `POST /predict` names.
enum PredictionEntity: Int, CaseIterable, Sendable {
  case customer, account, merchant

  var name: String {
    switch self {
    case .customer: "customer"
    case .account: "account"
    case .merchant: "merchant"
    }
  }
}

/// Where each model input comes from: a stored feature of the customer, account or merchant, or
/// an on-demand feature of the transaction. Built once per model load, checked against the
/// registry, so a model that does not fit the registry is refused before it serves.
struct ModelInputPlan: Sendable {
  enum Source: Sendable, Equatable {
    case stored(entity: Int, feature: Int)
    case onDemand(Int)
  }

  let sources: [Source]
  /// The registry entity of each prediction slot; nil when the registry lacks it.
  let entities: [EntityDefinition?]
  /// Stored features the on-demand ones need (nil when the registry lacks them).
  let customerMean: Int?
  let customerStd: Int?
  let merchantCategory: Int?
  /// Whether any input is a window feature: if none is, a prediction does not read the events
  /// behind them (a read and a window computation per request saved).
  let usesWindowFeatures: Bool

  /// Maps every input of `model` by name: an on-demand name, `entity.feature`, or a feature
  /// name found in exactly one of customer, account and merchant. Throws naming the input.
  init(model: XGBoostModel, registry: Registry) throws {
    let entities = PredictionEntity.allCases.map { registry.entity(named: $0.name) }
    var sources: [Source] = []
    for name in model.featureNames {
      if let feature = OnDemandFeature(rawValue: name) {
        sources.append(.onDemand(OnDemandFeature.positions[feature] ?? 0))
        continue
      }
      var matches: [(Int, Int)] = []
      let parts = name.split(separator: ".", maxSplits: 1).map(String.init)
      for (slot, entity) in entities.enumerated() {
        guard let entity else { continue }
        if parts.count == 2 {
          if parts[0] == entity.name, let position = entity.featureIndex[parts[1]] { matches.append((slot, position)) }
        } else if let position = entity.featureIndex[name] {
          matches.append((slot, position))
        }
      }
      guard matches.count == 1, let (slot, position) = matches.first, let entity = entities[slot] else {
        if matches.count > 1 {
          let owners = matches.map { PredictionEntity.allCases[$0.0].name }.joined(separator: " and ")
          throw ModelLoadError("model input '\(name)' is a feature of both \(owners); name it entity.feature")
        }
        let onDemand = OnDemandFeature.allCases.map(\.rawValue).joined(separator: ", ")
        throw ModelLoadError(
          "model input '\(name)' is neither an on-demand feature (\(onDemand)) nor a feature of customer, account or merchant in registry '\(registry.project)'"
        )
      }
      guard entity.features[position].type != .string else {
        throw ModelLoadError(
          "model input '\(name)' is the string feature \(entity.name).\(entity.features[position].name); model inputs must be numbers or booleans"
        )
      }
      sources.append(.stored(entity: slot, feature: position))
    }
    self.sources = sources
    self.entities = entities
    usesWindowFeatures = sources.contains { source in
      guard case .stored(let slot, let feature) = source, let entity = entities[slot] else { return false }
      return feature >= entity.storedFeatureCount
    }
    customerMean = entities[PredictionEntity.customer.rawValue]?.featureIndex["avg_txn_amount_30d"]
    customerStd = entities[PredictionEntity.customer.rawValue]?.featureIndex["std_txn_amount_30d"]
    merchantCategory = entities[PredictionEntity.merchant.rawValue]?.featureIndex["merchant_category"]
  }
}

extension FeatureValue {
  /// The value as a model input: numbers as they are, booleans 1/0, text NaN.
  var modelInput: Double {
    switch self {
    case .int64(let value): Double(value)
    case .double(let value): value
    case .bool(let value): value ? 1 : 0
    case .string: .nan
    }
  }
}
