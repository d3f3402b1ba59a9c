import RedisPool

#if canImport(Glibc)
  import Glibc
#endif

/// One entity instance as read from its Redis hash, typed by the registry. Missing fields take
/// the feature's default (or null) when served.
@_spi(Benchmarks) public struct FeatureRow: Sendable {
  /// The stored features' values by feature index; nil where the hash lacks the field or holds
  /// text of the wrong type.
  private(set) var storedValues: [FeatureValue?]
  /// The window features' values (computed at read time), after the stored ones; as read and
  /// cached, the entity's values without events, shared (no memory per row).
  private(set) var windowValues: [FeatureValue?] = []
  /// The `_ts` field: event time in epoch seconds.
  var eventTimestamp: Int64?
  /// Fields whose text did not parse as the registry's type (counted in metrics, served as null).
  var decodeErrors: Int
  /// `"features":{...}` of the stored features, rendered once when the row is read; without
  /// its closing brace when the entity has window features (`renderedWindows` follows).
  private(set) var renderedStored: [UInt8]
  /// `,"txn_count_1m":0,...}`: the window part of `"features"`; as read and cached, the
  /// entity's rendering without events, shared.
  private(set) var renderedWindows: [UInt8] = []

  /// Every feature's value, stored then window, by feature index.
  var values: [FeatureValue?] { windowValues.isEmpty ? storedValues : storedValues + windowValues }

  /// The value of feature `position`.
  func value(at position: Int) -> FeatureValue? {
    position < storedValues.count ? storedValues[position] : windowValues[position - storedValues.count]
  }

  /// Bytes of `"features":{...}` in full.
  var renderedCount: Int { renderedStored.count + renderedWindows.count }

  /// Appends `"features":{...}` in full.
  func appendRendered(to body: inout [UInt8]) {
    body.append(contentsOf: renderedStored)
    body.append(contentsOf: renderedWindows)
  }

  /// An estimate of the memory the row holds, for the cache's byte bound (the shared window
  /// part of a row without events is the entity's, not the row's).
  var approximateBytes: Int {
    var total = 64 + renderedStored.count + storedValues.count * 32
    for case .string(let text)? in storedValues { total += text.utf8.count }
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

  /// A row of the entity's stored values (`storedFeatureCount` of them, defaults filled in):
  /// rendered once here, with the entity's shared window part of an instance without events.
  init(storedValues: [FeatureValue?], eventTimestamp: Int64?, decodeErrors: Int, entity: EntityDefinition) {
    self.eventTimestamp = eventTimestamp
    self.decodeErrors = decodeErrors
    self.storedValues = storedValues
    let empty = entity.emptyWindows
    renderedStored = FeatureRow.renderInOrder(storedValues, entity: entity, closed: empty == nil)
    if let empty {
      windowValues = empty.values
      renderedWindows = empty.rendered
    }
  }

  /// Puts the window features' values (computed at read time) after the stored ones.
  mutating func setWindowValues(_ windowValues: [FeatureValue?], entity: EntityDefinition) {
    let start = entity.storedFeatureCount
    self.windowValues = windowValues
    var rendered: [UInt8] = []
    rendered.reserveCapacity(windowValues.count * 32)
    for (offset, value) in windowValues.enumerated() {
      if start + offset > 0 { rendered.append(UInt8(ascii: ",")) }
      rendered.append(contentsOf: entity.features[start + offset].jsonKey)
      JSONWriter.appendValue(value, to: &rendered)
    }
    rendered.append(UInt8(ascii: "}"))
    renderedWindows = rendered
  }

  /// `"features":{...}` of `values` in feature order (the stored features, or all of them);
  /// without its closing brace when `closed` is false (the window part follows). One pass, no
  /// index array.
  static func renderInOrder(_ values: [FeatureValue?], entity: EntityDefinition, closed: Bool) -> [UInt8] {
    var output: [UInt8] = []
    output.reserveCapacity(32 + values.count * 24)
    JSONWriter.appendRaw("\"features\":{", to: &output)
    entity.features.withUnsafeBufferPointer { features in
      values.withUnsafeBufferPointer { values in
        for position in values.indices {
          if position > 0 { output.append(UInt8(ascii: ",")) }
          output.append(contentsOf: features[position].jsonKey)
          JSONWriter.appendValue(values[position], to: &output)
        }
      }
    }
    if closed { output.append(UInt8(ascii: "}")) }
    return output
  }

  /// `"features":{name: value, ...}`, for all features or the given indices.
  static func render(_ values: [FeatureValue?], entity: EntityDefinition, only: [Int]?) -> [UInt8] {
    guard let positions = only else { return renderInOrder(values, entity: entity, closed: true) }
    var output: [UInt8] = []
    output.reserveCapacity(32 + positions.count * 24)
    JSONWriter.appendRaw("\"features\":{", to: &output)
    for (count, position) in positions.enumerated() {
      if count > 0 { output.append(UInt8(ascii: ",")) }
      output.append(contentsOf: entity.features[position].jsonKey)
      JSONWriter.appendValue(values[position], to: &output)
    }
    output.append(UInt8(ascii: "}"))
    return output
  }
}

/// Turns the field/value pairs of one hash into a row: fields are matched to stored features by
/// their bytes (writers usually store them in registry order, so the next feature is tried
/// first), values parsed by type; fields the registry does not store are skipped.
private struct HashDecoder {
  let entity: EntityDefinition
  /// Starts as the stored features' defaults: a field the hash lacks, or whose text does not
  /// parse (counted in `errors`), keeps its feature's default (or null).
  var values: [FeatureValue?]
  var timestamp: Int64? = nil
  var errors = 0
  var expected = 0

  init(entity: EntityDefinition) {
    self.entity = entity
    values = entity.storedDefaults
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
    let stored = entity.storedFeatureCount
    return entity.features.withUnsafeBufferPointer { features in
      if expected < stored && Self.same(field, features[expected].nameUTF8) { return expected }
      if stored <= 32 {
        return features[..<stored].firstIndex { Self.same(field, $0.nameUTF8) }
      }
      return entity.storedFeaturePosition(String(decoding: field, as: UTF8.self))
    }
  }

  private static func same(_ field: UnsafeRawBufferPointer, _ name: [UInt8]) -> Bool {
    guard field.count == name.count else { return false }
    return name.isEmpty || name.withUnsafeBytes { memcmp($0.baseAddress!, field.baseAddress!, name.count) == 0 }
  }

  func finish() -> FeatureRow {
    FeatureRow(storedValues: values, eventTimestamp: timestamp, decodeErrors: errors, entity: entity)
  }
}
