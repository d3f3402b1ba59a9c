import Codecs

/// An ordered list of header fields with case-insensitive lookup by name. Names keep the case they
/// were received or set with.
public struct HTTPHeaders: Sendable, Sequence, ExpressibleByDictionaryLiteral {
  @usableFromInline var fields: [(name: String, value: String)] {
    didSet { http1Lines = nil }
  }

  /// The fields as HTTP/1.1 lines (`Name: value\r\n` each, the fields the server owns left
  /// out), when they were rendered ahead by `prerendered(_:)`; any change drops them.
  private(set) var http1Lines: [UInt8]? = nil

  public init() { fields = [] }

  /// Headers that many responses share (a route's `Content-Type` and `X-Cache`), rendered for
  /// HTTP/1.1 once here instead of field by field in every response.
  public static func prerendered(_ fields: [(String, String)]) -> HTTPHeaders {
    var headers = HTTPHeaders(fields)
    var lines: [UInt8] = []
    ResponseSerializer.appendFieldLines(headers, to: &lines)
    headers.http1Lines = lines
    return headers
  }

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
    for field in fields where ASCII.equalsIgnoringCase(field.name, name) { return field.value }
    return nil
  }

  /// Every value of the field `name`, in order.
  public func values(for name: String) -> [String] {
    fields.filter { ASCII.equalsIgnoringCase($0.name, name) }.map(\.value)
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
    fields.removeAll { ASCII.equalsIgnoringCase($0.name, name) }
  }

  /// True when some field `name` exists.
  public func contains(_ name: String) -> Bool {
    fields.contains { ASCII.equalsIgnoringCase($0.name, name) }
  }

  public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> {
    fields.makeIterator()
  }
}
