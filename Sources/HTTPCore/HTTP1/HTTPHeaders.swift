/// An ordered list of header fields with case-insensitive lookup by name. Names keep the case they
/// were received or set with.
public struct HTTPHeaders: Sendable, Sequence, ExpressibleByDictionaryLiteral {
  @usableFromInline var fields: [(name: String, value: String)]

  public init() { fields = [] }

  public init(_ fields: [(String, String)]) {
    self.fields = fields.map { (name: $0.0, value: $0.1) }
  }

  public init(dictionaryLiteral elements: (String, String)...) {
    self.init(elements)
  }

  /// The number of fields (repeated names count once each).
  public var count: Int { fields.count }

  /// The first value of the field `name`, compared case-insensitively.
  public subscript(name: String) -> String? {
    for field in fields where equalsIgnoringASCIICase(field.name, name) { return field.value }
    return nil
  }

  /// Every value of the field `name`, in order.
  public func values(for name: String) -> [String] {
    fields.filter { equalsIgnoringASCIICase($0.name, name) }.map(\.value)
  }

  /// Appends a field (keeps existing fields of the same name).
  public mutating func add(name: String, value: String) {
    fields.append((name: name, value: value))
  }

  /// Replaces every field `name` with one field.
  public mutating func replaceOrAdd(name: String, value: String) {
    remove(name: name)
    fields.append((name: name, value: value))
  }

  /// Removes every field `name`.
  public mutating func remove(name: String) {
    fields.removeAll { equalsIgnoringASCIICase($0.name, name) }
  }

  /// True when some field `name` exists.
  public func contains(_ name: String) -> Bool {
    fields.contains { equalsIgnoringASCIICase($0.name, name) }
  }

  public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> {
    fields.makeIterator()
  }
}

/// ASCII case-insensitive equality, without allocating.
@inlinable
public func equalsIgnoringASCIICase(_ a: String, _ b: String) -> Bool {
  let left = a.utf8
  let right = b.utf8
  guard left.count == right.count else { return false }
  for (x, y) in zip(left, right) where x != y {
    if x | 0x20 != y | 0x20 { return false }
    let lower = x | 0x20
    if lower < UInt8(ascii: "a") || lower > UInt8(ascii: "z") { return false }
  }
  return true
}
