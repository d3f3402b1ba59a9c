import Codecs
import HTTPCore
import Reactor
import RedisPool

#if canImport(Glibc)
  import Glibc
#endif

/// One loop's reusable buffers for predictions (no per-request allocation of the input vector).
final class PredictionScratch {
  var inputs: [Float] = []
  var onDemand: [Double] = []
}

extension FeatureService {
  // MARK: POST /predict

  func predict(_ httpRequest: HTTPRequest, _ responder: HTTPResponder, models: ModelStore) {
    let started = monotonicNanoseconds()
    let loopIndex = responder.eventLoop.index
    let request: PredictRequest
    do {
      request = try PredictRequest(body: httpRequest.body, now: Int64(time(nil)))
    } catch let invalid as PredictRequest.Invalid {
      return answer(
        responder, .predict, .error(.badRequest, code: "invalid_request", message: invalid.message), since: started)
    } catch {
      return answer(
        responder, .predict, .error(.badRequest, code: "invalid_request", message: "\(error)"), since: started)
    }
    let loaded = models.slots[loopIndex].model
    let plan = loaded.plan
    let ids = [request.customerID, request.accountID, request.merchantID]
    var reads: [(entity: EntityDefinition, id: String)] = []
    var readSlots: [Int] = []
    for slot in PredictionEntity.allCases {
      guard let entity = plan.entities[slot.rawValue] else { continue }
      switch entity.idRule.canonical(ids[slot.rawValue]) {
      case .success(let id): reads.append((entity, id))
      case .failure(let violation):
        return answer(
          responder, .predict,
          .error(
            .badRequest, code: "invalid_request",
            message: "field '\(slot.name)_id': \(slot.name) id '\(ids[slot.rawValue])' \(violation.reason)"),
          since: started)
      }
      readSlots.append(slot.rawValue)
    }
    let explain = httpRequest.queryItem("explain").map { $0 == "true" || $0 == "1" } ?? false
    readers[loopIndex].read(many: reads, windows: plan.usesWindowFeatures) { [self] results in
      let fetched = monotonicNanoseconds()
      var rows: [FeatureRow?] = [nil, nil, nil]
      for (position, result) in results.enumerated() {
        if case .found(let row, _) = result { rows[readSlots[position]] = row }
      }
      let scratch = predictionScratch[loopIndex]
      let customer = rows[PredictionEntity.customer.rawValue]
      let merchant = rows[PredictionEntity.merchant.rawValue]
      func stored(_ row: FeatureRow?, _ feature: Int?) -> Double {
        guard let row, let feature, let value = row.value(at: feature) else { return .nan }
        return value.modelInput
      }
      var storedCategory: String? = nil
      if let merchant, let index = plan.merchantCategory, case .string(let text)? = merchant.value(at: index) {
        storedCategory = text
      }
      // The loop's buffers are moved out for the request and back after: appending to a class's
      // array property checks exclusive access at run time on every append.
      var onDemand = scratch.onDemand
      var inputs = scratch.inputs
      scratch.onDemand = []
      scratch.inputs = []
      defer {
        scratch.onDemand = onDemand
        scratch.inputs = inputs
      }
      OnDemandFeature.compute(
        request, customerMean: stored(customer, plan.customerMean), customerStd: stored(customer, plan.customerStd),
        storedCategory: storedCategory, into: &onDemand)
      inputs.removeAll(keepingCapacity: true)
      var degraded = false
      for source in plan.sources {
        switch source {
        case .stored(let entity, let feature):
          let value = stored(rows[entity], feature)
          if value.isNaN { degraded = true }
          inputs.append(Float(value))
        case .onDemand(let index):
          let value = onDemand[index]
          // Missing because stored data is missing (not because the request left a field out).
          if value.isNaN
            && (index == OnDemandFeature.amountZScoreIndex
              || (index == OnDemandFeature.highRiskIndex && request.merchantCategory == nil))
          {
            degraded = true
          }
          inputs.append(Float(value))
        }
      }
      if let drift = loaded.drift {
        inputs.withUnsafeBufferPointer { drift.record($0, loop: loopIndex, now: fetched) }
      }
      let inferenceStarted = monotonicNanoseconds()
      let output = inputs.withUnsafeBufferPointer { loaded.model.predict($0) }
      let probability = loaded.model.objective == .binaryLogitRaw ? 1 / (1 + expf(-output)) : output
      let inferenceNanoseconds = monotonicNanoseconds() &- inferenceStarted
      let isFraud = Double(probability) >= configuration.fraudThreshold
      metrics[loopIndex].recordPrediction(
        degraded ? .degraded : (isFraud ? .fraud : .notFraud), inferenceNanoseconds: inferenceNanoseconds)

      var body: [UInt8] = []
      body.reserveCapacity(320)
      JSONWriter.appendRaw(#"{"transaction_id":"#, to: &body)
      JSONWriter.appendString(request.transactionID, to: &body)
      JSONWriter.appendRaw(#","fraud_probability":"#, to: &body)
      JSONWriter.appendFloat(probability, to: &body)
      JSONWriter.appendRaw(isFraud ? #","is_fraud":true"# : #","is_fraud":false"#, to: &body)
      JSONWriter.appendRaw(#","confidence":"#, to: &body)
      JSONWriter.appendFloat(abs(probability - 0.5) * 2, to: &body)
      JSONWriter.appendRaw(#","model_version":"#, to: &body)
      JSONWriter.appendString(loaded.version, to: &body)
      JSONWriter.appendRaw(#","latency_ms":{"feature_retrieval":"#, to: &body)
      JSONWriter.appendMilliseconds(fetched &- started, to: &body)
      JSONWriter.appendRaw(#","inference":"#, to: &body)
      JSONWriter.appendMilliseconds(inferenceNanoseconds, to: &body)
      JSONWriter.appendRaw(#","total":"#, to: &body)
      JSONWriter.appendMilliseconds(monotonicNanoseconds() &- started, to: &body)
      JSONWriter.appendRaw(degraded ? #"},"degraded":true"# : #"},"degraded":false"#, to: &body)
      JSONWriter.appendRaw(#","missing_features":["#, to: &body)
      var first = true
      for (index, value) in inputs.enumerated() where value.isNaN {
        if !first { body.append(UInt8(ascii: ",")) }
        first = false
        JSONWriter.appendString(loaded.model.featureNames[index], to: &body)
      }
      body.append(UInt8(ascii: "]"))
      if explain {
        JSONWriter.appendRaw(#","features":{"#, to: &body)
        for (index, value) in inputs.enumerated() {
          if index > 0 { body.append(UInt8(ascii: ",")) }
          JSONWriter.appendString(loaded.model.featureNames[index], to: &body)
          body.append(UInt8(ascii: ":"))
          JSONWriter.appendFloat(value, to: &body)
        }
        body.append(UInt8(ascii: "}"))
      }
      body.append(UInt8(ascii: "}"))
      answer(responder, .predict, HTTPResponse(headers: jsonHeaders, body: body), since: started)
    }
  }

  // MARK: POST /admin/reload-model

  func reloadModel(_ request: HTTPRequest, _ responder: HTTPResponder, models: ModelStore, token: String) {
    guard let authorization = request.headers["Authorization"],
      Self.bearerToken(authorization).map({
        constantTimeEqual(Array($0.utf8), Array(token.utf8))
      }) ?? false
    else {
      var response = HTTPResponse.error(
        .unauthorized, code: "unauthorized", message: "send Authorization: Bearer <the --admin-token>")
      response.headers.add(name: "WWW-Authenticate", value: "Bearer")
      return answer(responder, .reloadModel, response, since: 0)
    }
    models.reload { [self] result in
      switch result {
      case .success(let loaded):
        var body: [UInt8] = []
        JSONWriter.appendRaw(#"{"status":"reloaded","model_version":"#, to: &body)
        JSONWriter.appendString(loaded.version, to: &body)
        JSONWriter.appendRaw(#","trees":"#, to: &body)
        JSONWriter.appendInteger(Int64(loaded.model.treeCount), to: &body)
        body.append(UInt8(ascii: "}"))
        answer(responder, .reloadModel, HTTPResponse(headers: jsonHeaders, body: body), since: 0)
      case .failure(let error):
        answer(
          responder, .reloadModel,
          .error(
            HTTPStatus(code: 422), code: "model_rejected",
            message: "\(error.description); still serving \(models.current.version)"),
          since: 0)
      }
    }
  }
}

extension FeatureService {
  /// The token of an `Authorization: Bearer <token>` value. The scheme is matched
  /// case-insensitively (RFC 9110 §11.1); one or more spaces may follow it.
  static func bearerToken(_ authorization: String) -> Substring? {
    guard ASCII.hasPrefixIgnoringCase(authorization, "bearer ") else { return nil }
    let token = authorization.dropFirst("bearer ".count).drop { $0 == " " }
    return token.isEmpty ? nil : token
  }
}

/// Compares two byte strings in time that depends only on their lengths, not their contents.
func constantTimeEqual(_ left: [UInt8], _ right: [UInt8]) -> Bool {
  var difference = UInt8(left.count == right.count ? 0 : 1)
  let length = max(left.count, right.count)
  for index in 0..<length {
    let a = index < left.count ? left[index] : 0
    let b = index < right.count ? right[index] : 0
    difference |= a ^ b
  }
  return difference == 0
}
