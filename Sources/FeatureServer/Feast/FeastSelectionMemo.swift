/// One loop's memo of the selections it has worked out, by the request's exact `features` list
/// bytes (or feature service name) and `full_feature_names`: a model sends the same list on
/// every call, so the references are parsed, looked up and checked for collisions once, not per
/// request. Owned by its loop (no lock). Bounded: at most `capacity` entries (cleared when
/// full), and lists longer than `maxKeyBytes` are never memoized.
final class FeastSelectionMemo {
  static let capacity = 256
  static let maxKeyBytes = 4096

  /// Keyed by `RowKey`, which hashes its bytes in bulk.
  private var selections: [RowKey: FeastSelection] = [:]
  /// The serving (registry) the selections were made for: another one empties the memo.
  private var madeFor: ObjectIdentifier? = nil

  func selection(
    for request: FeastOnlineRequest, body: UnsafeBufferPointer<UInt8>, serving: FeastServing
  ) throws(FeastRequestError) -> FeastSelection {
    if madeFor != ObjectIdentifier(serving) {
      selections.removeAll()
      madeFor = ObjectIdentifier(serving)
    }
    var key: [UInt8] = [request.fullFeatureNames ? 1 : 0]
    if let service = request.featureService, !service.isEmpty {
      key.append(2)
      key.append(contentsOf: service.utf8)
    } else if let range = request.featuresRange {
      key.append(3)
      key.append(contentsOf: body[range])
    }
    let memoKey = RowKey(key)
    if let known = selections[memoKey] { return known }
    var references: [String] = []
    if request.featureService?.isEmpty ?? true, let range = request.featuresRange {
      references = try FeastOnlineRequest.references(body, range: range, limits: serving.configuration)
    }
    let selection = try serving.select(request, references: references)
    if key.count <= Self.maxKeyBytes {
      if selections.count >= Self.capacity { selections.removeAll(keepingCapacity: true) }
      selections[memoKey] = selection
    }
    return selection
  }
}
