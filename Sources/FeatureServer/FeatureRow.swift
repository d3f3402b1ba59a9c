import RedisPool

/// One entity instance as read from its Redis hash, typed by the registry. Missing fields take
/// the feature's default (or null) when served.
@_spi(Benchmarks) public struct FeatureRow: Sendable {
  /// Values by feature index; nil where the hash lacks the field or holds text of the wrong type.
  var values: [FeatureValue?]
  /// The `_ts` field: event time in epoch seconds.
  var eventTimestamp: Int64?
  /// Fields whose text did not parse as the registry's type (counted in metrics, served as null).
  var decodeErrors: Int
  /// `"features":{...}` for every feature, rendered once when the row is read.
  var renderedFeatures: [UInt8]
  /// With window features: where their part of `renderedFeatures` starts (just after the
  /// stored ones), and whether it holds the values of an entity without events, as a row is
  /// read and cached (the common case, served without touching the row).
  private var windowPartStart: Int? = nil
  private var windowsAreEmpty = false
  /// An estimate of the memory the row holds, for the cache's byte bound.
  var approximateBytes: Int {
    var total = 64 + renderedFeatures.count + values.count * 32
    for case .string(let text)? in values { total += text.utf8.count }
    return total
  }

  /// Decodes an HGETALL reply. An empty hash is a missing instance: nil.
  @_spi(Benchmarks) public init?(hash reply: [RedisValue], entity: EntityDefinition) {
    guard !reply.isEmpty else { return nil }
    var decoder = HashDecoder(entity: entity)
    var index = 0
    while index + 1 < reply.count {
      defer { index += 2 }
      guard case .bulk(let field) = reply[index], case .bulk(let text) = reply[index + 1] else { continue }
      field.withUnsafeBytes { field in text.withUnsafeBytes { text in decoder.add(field: field, value: text) } }
    }
    self = decoder.finish()
  }

  /// Decodes an HGETALL reply in place, inside the reply callback (no copy of the reply first).
  init?(hash reply: RedisReplyView, entity: EntityDefinition) {
    let count = reply.count
    guard count > 0 else { return nil }
    var decoder = HashDecoder(entity: entity)
    var index = 0
    while index + 1 < count {
      defer { index += 2 }
      guard let field = reply[index], let text = reply[index + 1], field.kind == .bulk, text.kind == .bulk else {
        continue
      }
      decoder.add(field: field.bytes, value: text.bytes)
    }
    self = decoder.finish()
  }

  init(values: [FeatureValue?], eventTimestamp: Int64?, decodeErrors: Int, entity: EntityDefinition) {
    self.values = values
    self.eventTimestamp = eventTimestamp
    self.decodeErrors = decodeErrors
    guard let empty = entity.emptyWindows else {
      renderedFeatures = FeatureRow.render(values, entity: entity, only: nil)
      return
    }
    // The stored features rendered once, then the window part as for an entity without events
    // (replaced when the row is served with events).
    self.values.replaceSubrange(entity.storedFeatureCount..<values.count, with: empty.values)
    renderedFeatures = FeatureRow.render(values, entity: entity, only: Array(0..<entity.storedFeatureCount))
    renderedFeatures.removeLast()  // the closing brace
    windowPartStart = renderedFeatures.count
    renderedFeatures.append(contentsOf: empty.rendered)
    windowsAreEmpty = true
  }

  /// Puts the window features' values (computed at read time) after the stored ones, in
  /// `values` and in `renderedFeatures` (whose stored part was rendered once, when read).
  mutating func setWindowValues(_ windowValues: [FeatureValue?], entity: EntityDefinition) {
    let start = entity.storedFeatureCount
    values.replaceSubrange(start..<values.count, with: windowValues)
    renderedFeatures.removeSubrange((windowPartStart ?? renderedFeatures.count - 1)...)
    windowsAreEmpty = false
    renderedFeatures.reserveCapacity(renderedFeatures.count + windowValues.count * 32)
    for (offset, value) in windowValues.enumerated() {
      if start + offset > 0 { renderedFeatures.append(UInt8(ascii: ",")) }
      renderedFeatures.append(contentsOf: entity.features[start + offset].jsonKey)
      JSONWriter.appendValue(value, to: &renderedFeatures)
    }
    renderedFeatures.append(UInt8(ascii: "}"))
  }

  /// `setWindowValues` for an entity without recent events, whose window values (0 counts and
  /// sums, null means) and their JSON are the same every time: appended as rendered once.
  mutating func setNoWindowEvents(entity: EntityDefinition) {
    guard !windowsAreEmpty, let empty = entity.emptyWindows else { return }  // as read: nothing to do
    values.replaceSubrange(entity.storedFeatureCount..<values.count, with: empty.values)
    renderedFeatures.removeSubrange((windowPartStart ?? renderedFeatures.count - 1)...)
    renderedFeatures.append(contentsOf: empty.rendered)
    windowsAreEmpty = true
  }

  /// `"features":{name: value, ...}`, for all features or the given indices.
  static func render(_ values: [FeatureValue?], entity: EntityDefinition, only: [Int]?) -> [UInt8] {
    var output: [UInt8] = []
    output.reserveCapacity(32 + entity.features.count * 24)
    JSONWriter.appendRaw("\"features\":{", to: &output)
    let positions = only ?? Array(entity.features.indices)
    for (count, position) in positions.enumerated() {
      if count > 0 { output.append(UInt8(ascii: ",")) }
      output.append(contentsOf: entity.features[position].jsonKey)
      JSONWriter.appendValue(values[position], to: &output)
    }
    output.append(UInt8(ascii: "}"))
    return output
  }
}

/// Turns the field/value pairs of one hash into a row: fields are matched to features by their
/// bytes (writers usually store them in registry order, so the next feature is tried first),
/// values parsed by type; fields the registry does not know are skipped.
private struct HashDecoder {
  let entity: EntityDefinition
  var values: [FeatureValue?]
  var timestamp: Int64? = nil
  var errors = 0
  var expected = 0

  init(entity: EntityDefinition) {
    self.entity = entity
    values = [FeatureValue?](repeating: nil, count: entity.features.count)
  }

  mutating func add(field: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
    if field.count == 3 && field.elementsEqual("_ts".utf8) {
      // Out of range or not a number: served as a null event time and counted, never trusted.
      timestamp = EventTime.seconds(value)
      if timestamp == nil { errors += 1 }
      return
    }
    guard let position = position(of: field) else { return }  // a field we do not serve
    expected = position + 1
    if let parsed = FeatureValue(utf8: value, as: entity.features[position].type) {
      values[position] = parsed
    } else {
      errors += 1
    }
  }

  private func position(of field: UnsafeRawBufferPointer) -> Int? {
    let features = entity.features
    if expected < features.count && Self.same(field, features[expected].nameUTF8) { return expected }
    if features.count <= 32 {
      return features.firstIndex { Self.same(field, $0.nameUTF8) }
    }
    return entity.featureIndex[String(decoding: field, as: UTF8.self)]
  }

  private static func same(_ field: UnsafeRawBufferPointer, _ name: [UInt8]) -> Bool {
    field.count == name.count && field.elementsEqual(name)
  }

  func finish() -> FeatureRow {
    var values = values
    for (position, feature) in entity.features.enumerated() where values[position] == nil {
      values[position] = feature.defaultValue
    }
    return FeatureRow(values: values, eventTimestamp: timestamp, decodeErrors: errors, entity: entity)
  }
}
