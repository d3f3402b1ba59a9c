import RedisPool

/// Our own layout: one hash per instance at `<prefix>:<entity>:<id>`, read whole with HGETALL,
/// values stored as text and typed by the registry.
final class NativeRowSource: RowSource {
  let entity: EntityDefinition
  /// The entity's position in the registry.
  let position: Int
  var name: String { entity.name }

  init(entity: EntityDefinition, position: Int) {
    self.entity = entity
    self.position = position
  }

  func errorLabel(nativeEntityCount: Int) -> Int { position }

  func readCommand(_ key: RowKey) -> RedisCommand {
    RedisCommand(Self.hgetall, key: key.bytes)
  }

  func decode(_ reply: RedisReplyView) -> RowDecoding {
    guard reply.kind == .array else {
      // WRONGTYPE and the like: the key holds something that is not a feature hash.
      return .invalid(detail: Self.describe(reply))
    }
    guard let row = FeatureRow(hash: reply, entity: entity) else { return .missing }
    return .row(.native(row), decodeErrors: row.decodeErrors)
  }

  private static let hgetall = RedisCommand.OneKeyHead("HGETALL")

  /// A reply that is not the expected one, for the log.
  static func describe(_ reply: RedisReplyView) -> String {
    reply.kind == .error
      ? String(decoding: reply.bytes.prefix(200), as: UTF8.self) : "a \(reply.kind) reply instead of a hash"
  }
}
