import Codecs
import Reactor

#if canImport(Glibc)
  import Glibc
#endif

/// A request for `HTTPClientConnection`.
public struct HTTPClientRequest: Sendable {
  public var method: HTTPMethod
  /// Origin-form target, e.g. `/features/customer/42`.
  public var target: String
  public var headers: HTTPHeaders
  public var body: [UInt8]

  public init(method: HTTPMethod = .get, target: String, headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = []) {
    self.method = method
    self.target = target
    self.headers = headers
    self.body = body
  }

  /// Why this request cannot be written as it is (a field name that is not a token, a value or
  /// target with CR, LF or other bytes that would split the message), or nil.
  public var invalidity: String? {
    guard HTTPSyntax.isToken(method.description) else { return "method '\(method)' is not a token" }
    guard !target.isEmpty, target.utf8.allSatisfy(HTTPSyntax.isTargetByte) else {
      return "target contains bytes that are not allowed (percent-encode them)"
    }
    for field in headers {
      guard HTTPSyntax.isToken(field.name) else { return "header name '\(field.name)' is not a token" }
      guard HTTPSyntax.isFieldValue(field.value) else { return "header '\(field.name)' has CR, LF or control bytes" }
    }
    return nil
  }

  /// The request as bytes on the wire. Encode once and reuse with `send(encoded:)` on hot paths
  /// (the load generator does): nothing is allocated per send then. Check `invalidity` first:
  /// `send(_:)` does.
  public func encoded(host: String) -> [UInt8] {
    var output: [UInt8] = []
    output.reserveCapacity(64 + target.utf8.count + body.count)
    output.append(contentsOf: method.description.utf8)
    output.append(.space)
    output.append(contentsOf: target.utf8)
    output.append(contentsOf: " HTTP/1.1\r\n".utf8)
    if !headers.contains("host") {
      output.append(contentsOf: "Host: \(host)\r\n".utf8)
    }
    for field in headers where !ASCII.equalsIgnoringCase(field.name, "content-length") {
      output.append(contentsOf: "\(field.name): \(field.value)\r\n".utf8)
    }
    if !body.isEmpty || method == .post || method == .put || method == .patch {
      output.append(contentsOf: "Content-Length: \(body.count)\r\n".utf8)
    }
    output.append(contentsOf: "\r\n".utf8)
    output.append(contentsOf: body)
    return output
  }
}

/// A response received by `HTTPClientConnection`.
public struct HTTPClientResponse: Sendable {
  public var status: Int
  public var reason: String
  public var headers: HTTPHeaders
  public var body: [UInt8]
  /// Body bytes received but not kept (a connection told not to keep response fields).
  public var discardedBodyBytes = 0

  /// The body's length, kept or not.
  public var bodyByteCount: Int { body.count + discardedBodyBytes }

  /// The body as UTF-8 text.
  public var text: String { String(decoding: body, as: UTF8.self) }
}

/// Why a client request failed.
public enum HTTPClientError: Error, Equatable, Sendable, CustomStringConvertible {
  case connectFailed(SystemError)
  case connectTimeout
  /// No response within the request's timeout; the connection was closed.
  case timeout
  /// The server closed the connection (or it broke) before the response was complete.
  case connectionClosed
  case malformedResponse(String)
  /// The request could not be written as given (see `HTTPClientRequest.invalidity`).
  case invalidRequest(String)
  /// The connection was closed by `close()` before this request was answered.
  case cancelled

  public var description: String {
    switch self {
    case .connectFailed(let error): "connect failed: \(error)"
    case .connectTimeout: "connect timed out"
    case .timeout: "request timed out"
    case .connectionClosed: "connection closed before the response was complete"
    case .malformedResponse(let reason): "malformed response: \(reason)"
    case .invalidRequest(let reason): "invalid request: \(reason)"
    case .cancelled: "cancelled"
    }
  }
}

extension HTTPClientError {
  /// How a non-blocking connect ended, once its socket reports an event: nil when it succeeded.
  static func connectOutcome(fd: Int32, events: UInt32) -> HTTPClientError? {
    let error = Socket.pendingError(fd)
    guard error != 0 || events & EventMask.error != 0 else { return nil }
    return .connectFailed(SystemError("connect", code: error == 0 ? ECONNREFUSED : error))
  }
}
