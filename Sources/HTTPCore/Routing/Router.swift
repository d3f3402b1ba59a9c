import Codecs

#if canImport(Glibc)
  import Glibc
#endif

/// Handles one request: answer through the responder now or later (after a Redis reply, a
/// timer...), exactly once, on the responder's loop or from any thread.
public typealias HTTPHandler = @Sendable (HTTPRequest, HTTPResponder) -> Void

/// A trie router over path segments: literal segments, `:name` parameters and a trailing `*name`
/// wildcard, with handlers per method. Literals win over parameters, parameters over wildcards.
/// Build it before the server starts; lookups are read-only and shared by every loop.
///
/// Empty segments are ignored, so `/health/` matches `/health`. Segments are matched before
/// percent-decoding, so an encoded `/` (`%2F`) stays inside one parameter.
public final class Router: @unchecked Sendable {
  final class Node {
    var literals: [(segment: [UInt8], node: Node)] = []
    var parameter: (name: String, node: Node)? = nil
    var wildcard: (name: String, node: Node)? = nil
    var handlers: [(method: HTTPMethod, pattern: String, handler: HTTPHandler)] = []
  }

  /// The outcome of a lookup.
  public enum Match {
    case found(HTTPHandler, pattern: String, PathParameters)
    /// The path exists for other methods: answer 405 with `Allow`.
    case methodNotAllowed(allowed: [HTTPMethod])
    case notFound
    /// The path is not valid (bad percent-encoding, not origin-form).
    case badPath(String)
  }

  private let root = Node()

  public init() {}

  /// Adds a route. A pattern is a path like `/features/:entity/:id` or `/static/*path`.
  public func on(_ method: HTTPMethod, _ pattern: String, _ handler: @escaping HTTPHandler) {
    var node = root
    for segment in pattern.split(separator: "/", omittingEmptySubsequences: true) {
      if segment.hasPrefix(":") {
        let name = String(segment.dropFirst())
        if let existing = node.parameter {
          precondition(
            existing.name == name, "conflicting parameter names :\(existing.name) and :\(name) in \(pattern)")
          node = existing.node
        } else {
          let child = Node()
          node.parameter = (name, child)
          node = child
        }
      } else if segment.hasPrefix("*") {
        let child = node.wildcard?.node ?? Node()
        node.wildcard = (String(segment.dropFirst()), child)
        node = child
        break
      } else {
        let bytes = Array(segment.utf8)
        if let existing = node.literals.first(where: { $0.segment == bytes }) {
          node = existing.node
        } else {
          let child = Node()
          node.literals.append((bytes, child))
          node = child
        }
      }
    }
    node.handlers.removeAll { $0.method == method }
    node.handlers.append((method, pattern, handler))
  }

  public func get(_ pattern: String, _ handler: @escaping HTTPHandler) { on(.get, pattern, handler) }
  public func post(_ pattern: String, _ handler: @escaping HTTPHandler) { on(.post, pattern, handler) }
  public func put(_ pattern: String, _ handler: @escaping HTTPHandler) { on(.put, pattern, handler) }
  public func delete(_ pattern: String, _ handler: @escaping HTTPHandler) { on(.delete, pattern, handler) }

  /// Finds the handler for a method and a request target (query string allowed; it is ignored).
  public func match(_ method: HTTPMethod, target: String) -> Match {
    var path = target
    if path.utf8.first != UInt8(ascii: "/") {
      // absolute-form (RFC 9112 §3.2.2): drop the scheme and authority.
      var withoutQuery = Substring(path)
      if let question = withoutQuery.utf8.firstIndex(of: UInt8(ascii: "?")) {
        withoutQuery = withoutQuery[..<question]
      }
      guard let origin = Router.pathOfAbsoluteForm(withoutQuery) else {
        return .badPath("request target is not a path")
      }
      path = String(origin)
    }
    // On the path's bytes, not through String indices: this runs for every request.
    return path.withUTF8 { match(method, path: $0) }
  }

  private func match(_ method: HTTPMethod, path bytes: UnsafeBufferPointer<UInt8>) -> Match {
    let end = bytes.firstIndex(of: UInt8(ascii: "?")) ?? bytes.count
    var segments: [Range<Int>] = []
    var position = 0
    while position < end {
      if bytes[position] == UInt8(ascii: "/") {
        position += 1
        continue
      }
      var segmentEnd = position
      while segmentEnd < end && bytes[segmentEnd] != UInt8(ascii: "/") { segmentEnd += 1 }
      segments.append(position..<segmentEnd)
      position = segmentEnd
    }
    var captured: [(name: String, range: Range<Int>)] = []
    guard let node = Router.find(root, segments[...], in: bytes, &captured) else { return .notFound }
    var parameters = PathParameters()
    for capture in captured {
      let raw = UnsafeBufferPointer(rebasing: bytes[capture.range])
      let text = String(decoding: raw, as: UTF8.self)
      guard raw.contains(UInt8(ascii: "%")) else {
        parameters.items.append((name: capture.name, value: text))
        continue
      }
      guard let value = PercentDecoding.decode(text) else {
        return .badPath("malformed percent-encoding in the path")
      }
      parameters.items.append((name: capture.name, value: value))
    }
    for entry in node.handlers where entry.method == method {
      return .found(entry.handler, pattern: entry.pattern, parameters)
    }
    if method == .head {
      for entry in node.handlers where entry.method == .get {
        return .found(entry.handler, pattern: entry.pattern, parameters)
      }
    }
    var allowed = node.handlers.map(\.method)
    if allowed.contains(.get) && !allowed.contains(.head) { allowed.append(.head) }
    return .methodNotAllowed(allowed: allowed)
  }

  /// Depth-first search: literal, then parameter, then wildcard, backtracking when a branch
  /// has no handlers for the remaining segments.
  private static func find(
    _ node: Node, _ segments: ArraySlice<Range<Int>>, in path: UnsafeBufferPointer<UInt8>,
    _ captured: inout [(name: String, range: Range<Int>)]
  ) -> Node? {
    guard let segment = segments.first else {
      if !node.handlers.isEmpty { return node }
      if let wildcard = node.wildcard, !wildcard.node.handlers.isEmpty {
        captured.append((wildcard.name, 0..<0))
        return wildcard.node
      }
      return nil
    }
    let rest = segments.dropFirst()
    if let literal = node.literals.first(where: { same($0.segment, path, segment) }),
      let found = find(literal.node, rest, in: path, &captured)
    {
      return found
    }
    if let parameter = node.parameter {
      captured.append((parameter.name, segment))
      if let found = find(parameter.node, rest, in: path, &captured) { return found }
      captured.removeLast()
    }
    if let wildcard = node.wildcard, !wildcard.node.handlers.isEmpty, let last = segments.last {
      captured.append((wildcard.name, segment.lowerBound..<last.upperBound))
      return wildcard.node
    }
    return nil
  }

  private static func same(_ literal: [UInt8], _ path: UnsafeBufferPointer<UInt8>, _ segment: Range<Int>) -> Bool {
    literal.count == segment.count
      && literal.withUnsafeBytes { memcmp($0.baseAddress!, path.baseAddress! + segment.lowerBound, segment.count) == 0 }
  }

  private static func pathOfAbsoluteForm(_ target: Substring) -> Substring? {
    for scheme in ["http://", "https://"] where target.lowercased().hasPrefix(scheme) {
      let afterScheme = target.dropFirst(scheme.count)
      guard let slash = afterScheme.firstIndex(of: "/") else { return "/" }
      return afterScheme[slash...]
    }
    return nil
  }
}
