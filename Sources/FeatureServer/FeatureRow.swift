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

  /// Decodes an HGETALL reply. An empty hash is a missing instance: nil.
  @_spi(Benchmarks) public init?(hash reply: [RedisValue], entity: EntityDefinition) {
    guard !reply.isEmpty else { return nil }
    var values = [FeatureValue?](repeating: nil, count: entity.features.count)
    var timestamp: Int64? = nil
    var errors = 0
    var index = 0
    while index + 1 < reply.count {
      defer { index += 2 }
      guard let field = reply[index].text, let text = reply[index + 1].text else { continue }
      if field == "_ts" {
        timestamp = Int64(text) ?? Double(text).flatMap { $0.isFinite ? Int64($0) : nil }
        if timestamp == nil { errors += 1 }
        continue
      }
      guard let position = entity.featureIndex[field] else { continue }  // fields we do not serve
      if let value = FeatureValue(text: text, as: entity.features[position].type) {
        values[position] = value
      } else {
        errors += 1
      }
    }
    for (position, feature) in entity.features.enumerated() where values[position] == nil {
      values[position] = feature.defaultValue
    }
    self.values = values
    eventTimestamp = timestamp
    decodeErrors = errors
    renderedFeatures = FeatureRow.render(values, entity: entity, only: nil)
  }

  /// `"features":{name: value, ...}`, for all features or the given indices.
  static func render(_ values: [FeatureValue?], entity: EntityDefinition, only: [Int]?) -> [UInt8] {
    var output: [UInt8] = []
    output.reserveCapacity(32 + entity.features.count * 24)
    JSONWriter.appendRaw("\"features\":{", to: &output)
    let positions = only ?? Array(entity.features.indices)
    for (count, position) in positions.enumerated() {
      if count > 0 { output.append(UInt8(ascii: ",")) }
      JSONWriter.appendString(entity.features[position].name, to: &output)
      output.append(UInt8(ascii: ":"))
      JSONWriter.appendValue(values[position], to: &output)
    }
    output.append(UInt8(ascii: "}"))
    return output
  }
}
