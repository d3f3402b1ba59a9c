import HTTPCore
import Reactor
import RedisPool

#if canImport(Glibc)
  import Glibc
#endif

extension FeatureService {
  // MARK: GET /features/:entity/:id

  func getFeatures(_ request: HTTPRequest, _ responder: HTTPResponder) {
    let started = monotonicNanoseconds()
    let entityName = request.parameters["entity"] ?? ""
    let requestedID = request.parameters["id"] ?? ""
    guard let entityPosition = registry.position(of: entityName) else {
      return answer(
        responder, .features,
        .error(
          .notFound, code: "unknown_entity", message: "no entity '\(entityName)' in registry '\(registry.project)'"),
        since: started)
    }
    let entity = registry.entities[entityPosition]
    let id: String
    switch entity.idRule.canonical(requestedID) {
    case .success(let canonical): id = canonical
    case .failure(let violation):
      return answer(
        responder, .features,
        .error(.badRequest, code: "invalid_id", message: "\(entity.name) id '\(requestedID)' \(violation.reason)"),
        since: started)
    }
    // A `let`: a `var` the completion below captures is boxed on the heap on every request,
    // cache hits included.
    let selection: [Int]?
    if let list = request.queryItem("features") {
      guard let positions = requestedFeatures(list, in: entity, responder: responder, since: started) else { return }
      selection = positions
    } else {
      selection = nil
    }
    // The completion is made only when Redis must be asked (`later`); a cache hit answers here.
    let cached = readers[responder.eventLoop.index].read(entity, registryPosition: entityPosition, id: id) {
      { [self] result in
        answerFeatures(
          result, entity: entity, entityPosition: entityPosition, id: id, selection: selection, responder: responder,
          since: started)
      }
    }
    if let cached {
      answerFeatures(
        cached, entity: entity, entityPosition: entityPosition, id: id, selection: selection, responder: responder,
        since: started)
    }
  }

  private func answerFeatures(
    _ result: ReadResult, entity: EntityDefinition, entityPosition: Int, id: String, selection: [Int]?,
    responder: HTTPResponder, since started: UInt64
  ) {
    let response: HTTPResponse
    switch result {
    case .found(let row, let cacheResult):
      var body: [UInt8] = []
      body.reserveCapacity(row.renderedCount + 160)
      render(
        row, entity: entity, entityPosition: entityPosition, id: id, selection: selection, cache: cacheResult,
        loopMetrics: metrics[responder.eventLoop.index], into: &body)
      response = HTTPResponse(headers: cacheHeaders(cacheResult), body: body)
    case .missing(let cacheResult):
      var missing = HTTPResponse.error(.notFound, code: "not_found", message: "\(entity.name) '\(id)' not found")
      missing.headers.add(name: "X-Cache", value: cacheLabel(cacheResult))
      response = missing
    case .invalid(let cacheResult):
      response = invalidStoredRow(entity: entity, id: id, cache: cacheResult)
    case .unavailable(let error):
      response = unavailable(error)
    }
    answer(responder, .features, response, since: started)
  }

  /// The answer for a key that holds something other than a feature row: the server's data is
  /// wrong, not the request and not Redis's availability. No key names or Redis text leave the
  /// server (they are in its log).
  func invalidStoredRow(entity: EntityDefinition, id: String, cache: CacheResult) -> HTTPResponse {
    var response = HTTPResponse.error(
      .internalServerError, code: "invalid_stored_row",
      message: "the stored data of \(entity.name) '\(id)' is not a feature row; the server log has the details")
    response.headers.add(name: "X-Cache", value: cacheLabel(cache))
    return response
  }

  /// The positions `?features=a,b` asks for, or nil after answering the 400 that names an unknown
  /// one. Kept out of `getFeatures`: its result type costs a destroy on every request there.
  @inline(never)
  private func requestedFeatures(
    _ list: String, in entity: EntityDefinition, responder: HTTPResponder, since started: UInt64
  )
    -> [Int]?
  {
    switch select(list.split(separator: ",").map { String($0) }, in: entity) {
    case .success(let positions): return positions
    case .failure(let error):
      answer(responder, .features, error.response, since: started)
      return nil
    }
  }

  /// Feature positions for requested names, or a 400 naming the unknown one.
  func select(_ names: [String], in entity: EntityDefinition) -> Result<[Int], HTTPResponseError> {
    var positions: [Int] = []
    for name in names where !name.isEmpty {
      guard let position = entity.featureIndex[name] else {
        return .failure(
          HTTPResponseError(
            .error(.badRequest, code: "unknown_feature", message: "entity '\(entity.name)' has no feature '\(name)'")))
      }
      positions.append(position)
    }
    return .success(positions)
  }

  /// `{"entity","id","features","event_timestamp","status"[,"stale"]}`.
  func render(
    _ row: FeatureRow, entity: EntityDefinition, entityPosition: Int, id: String, selection: [Int]?,
    cache: CacheResult, loopMetrics: LoopMetrics, into body: inout [UInt8]
  ) {
    JSONWriter.appendRaw(#"{"entity":"#, to: &body)
    JSONWriter.appendString(entity.name, to: &body)
    JSONWriter.appendRaw(#","id":"#, to: &body)
    JSONWriter.appendString(id, to: &body)
    body.append(UInt8(ascii: ","))
    if let selection {
      body.append(contentsOf: FeatureRow.render(row.values, entity: entity, only: selection))
    } else {
      row.appendRendered(to: &body)
    }
    JSONWriter.appendRaw(#","event_timestamp":"#, to: &body)
    var outside = false
    if let timestamp = row.eventTimestamp {
      JSONWriter.appendInteger(timestamp, to: &body)
      let age = EventTime.age(of: timestamp, now: Int64(time(nil)))
      loopMetrics.recordAge(entity: entityPosition, seconds: age)
      outside = Double(age) > entity.maxAge
    } else {
      JSONWriter.appendRaw("null", to: &body)
    }
    JSONWriter.appendRaw(outside ? #","status":"OUTSIDE_MAX_AGE""# : #","status":"PRESENT""#, to: &body)
    if cache == .stale { JSONWriter.appendRaw(#","stale":true"#, to: &body) }
    body.append(UInt8(ascii: "}"))
  }

  func cacheLabel(_ result: CacheResult) -> String {
    switch result {
    case .hit, .negative: "HIT"
    case .miss: "MISS"
    case .stale: "STALE"
    }
  }

  func cacheHeaders(_ result: CacheResult) -> HTTPHeaders {
    switch result {
    case .hit, .negative: hitHeaders
    case .miss: missHeaders
    case .stale: staleHeaders
    }
  }

  func unavailable(_ error: RedisError) -> HTTPResponse {
    var response = HTTPResponse.error(
      .serviceUnavailable, code: error == .overloaded ? "overloaded" : "redis_unavailable", message: error.description)
    response.headers.add(name: "Retry-After", value: "1")
    response.headers.add(name: "X-Cache", value: "MISS")
    return response
  }

  // MARK: POST /features

  func postFeatures(_ request: HTTPRequest, _ responder: HTTPResponder) {
    let started = monotonicNanoseconds()
    let batch: BatchRequest
    do {
      batch = try BatchRequest(parsing: request.body, maxItems: configuration.maxBatchItems)
    } catch let failure {
      switch failure {
      case .tooManyItems(let limit):
        return answer(
          responder, .featuresBatch,
          .error(
            .contentTooLarge, code: "too_many_items", message: "more than \(limit) items; at most \(limit) per request"),
          since: started)
      case .invalid(let message):
        return answer(
          responder, .featuresBatch, .error(.badRequest, code: "invalid_json", message: message), since: started)
      }
    }
    // Validate everything first: a bad item is a 400 naming it, before anything is read.
    var reads: [(entity: EntityDefinition, id: String)] = []
    var plans: [(position: Int, selection: [Int]?)] = []
    reads.reserveCapacity(batch.items.count)
    plans.reserveCapacity(batch.items.count)
    for (index, item) in batch.items.enumerated() {
      guard let position = registry.position(of: item.entity) else {
        return answer(
          responder, .featuresBatch,
          .error(.badRequest, code: "unknown_entity", message: "items[\(index)].entity: no entity '\(item.entity)'"),
          since: started)
      }
      let entity = registry.entities[position]
      let id: String
      switch entity.idRule.canonical(item.id) {
      case .success(let canonical): id = canonical
      case .failure(let violation):
        return answer(
          responder, .featuresBatch,
          .error(
            .badRequest, code: "invalid_id",
            message: "items[\(index)].id: \(entity.name) id '\(item.id)' \(violation.reason)"),
          since: started)
      }
      var selection: [Int]? = nil
      if let names = item.features {
        switch select(names, in: entity) {
        case .success(let positions): selection = positions
        case .failure(let error):
          return answer(responder, .featuresBatch, error.response, since: started)
        }
      }
      reads.append((entity, id))
      plans.append((position, selection))
    }
    let loopMetrics = metrics[responder.eventLoop.index]
    readers[responder.eventLoop.index].read(many: reads) { [self] results in
      var body: [UInt8] = []
      JSONWriter.appendRaw(#"{"results":["#, to: &body)
      for (index, result) in results.enumerated() {
        if index > 0 { body.append(UInt8(ascii: ",")) }
        let (entity, id) = reads[index]
        switch result {
        case .found(let row, let cacheResult):
          render(
            row, entity: entity, entityPosition: plans[index].position, id: id, selection: plans[index].selection,
            cache: cacheResult, loopMetrics: loopMetrics, into: &body)
        case .missing:
          appendItemStatus(entity: entity.name, id: id, status: "NOT_FOUND", into: &body)
        case .invalid:
          appendItemStatus(entity: entity.name, id: id, status: "INVALID", into: &body)
        case .unavailable:
          appendItemStatus(entity: entity.name, id: id, status: "UNAVAILABLE", into: &body)
        }
      }
      JSONWriter.appendRaw("]}", to: &body)
      let allUnavailable =
        !results.isEmpty && results.allSatisfy { if case .unavailable = $0 { return true } else { return false } }
      if allUnavailable, case .unavailable(let error) = results[0] {
        return answer(responder, .featuresBatch, unavailable(error), since: started)
      }
      answer(responder, .featuresBatch, HTTPResponse(headers: jsonHeaders, body: body), since: started)
    }
  }

  private func appendItemStatus(entity: String, id: String, status: StaticString, into body: inout [UInt8]) {
    JSONWriter.appendRaw(#"{"entity":"#, to: &body)
    JSONWriter.appendString(entity, to: &body)
    JSONWriter.appendRaw(#","id":"#, to: &body)
    JSONWriter.appendString(id, to: &body)
    JSONWriter.appendRaw(#","features":null,"event_timestamp":null,"status":""#, to: &body)
    JSONWriter.appendRaw(status, to: &body)
    JSONWriter.appendRaw(#""}"#, to: &body)
  }
}

/// A prepared error response, usable as a `Result` failure.
struct HTTPResponseError: Error {
  let response: HTTPResponse
  init(_ response: HTTPResponse) { self.response = response }
}

let hitHeaders = HTTPHeaders.prerendered([("Content-Type", "application/json"), ("X-Cache", "HIT")])
let missHeaders = HTTPHeaders.prerendered([("Content-Type", "application/json"), ("X-Cache", "MISS")])
let staleHeaders = HTTPHeaders.prerendered([("Content-Type", "application/json"), ("X-Cache", "STALE")])
