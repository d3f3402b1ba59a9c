import Codecs

#if canImport(Glibc)
  import Glibc
#endif

/// An HTTP request method. The common ones are cases; anything else that is a valid token is
/// kept as `.other`.
public enum HTTPMethod: Hashable, Sendable, CustomStringConvertible {
  case get, head, post, put, delete, options, patch, trace, connect
  case other(String)

  public init(_ text: String) {
    switch text {
    case "GET": self = .get
    case "HEAD": self = .head
    case "POST": self = .post
    case "PUT": self = .put
    case "DELETE": self = .delete
    case "OPTIONS": self = .options
    case "PATCH": self = .patch
    case "TRACE": self = .trace
    case "CONNECT": self = .connect
    default: self = .other(text)
    }
  }

  /// The method named by a request line's bytes: the common ones are recognised without making
  /// a String first (this runs for every request).
  init(bytes: UnsafeRawBufferPointer) {
    func named(_ name: StaticString) -> Bool {
      name.utf8CodeUnitCount == bytes.count && memcmp(name.utf8Start, bytes.baseAddress!, bytes.count) == 0
    }
    switch bytes.count {
    case 3 where named("GET"): self = .get
    case 4 where named("POST"): self = .post
    case 4 where named("HEAD"): self = .head
    case 3 where named("PUT"): self = .put
    case 6 where named("DELETE"): self = .delete
    default: self.init(String(decoding: bytes, as: UTF8.self))
    }
  }

  public var description: String {
    switch self {
    case .get: "GET"
    case .head: "HEAD"
    case .post: "POST"
    case .put: "PUT"
    case .delete: "DELETE"
    case .options: "OPTIONS"
    case .patch: "PATCH"
    case .trace: "TRACE"
    case .connect: "CONNECT"
    case .other(let text): text
    }
  }
}

/// An HTTP status code with its reason phrase.
public struct HTTPStatus: Hashable, Sendable, CustomStringConvertible {
  public let code: Int
  public let reason: String

  /// `HTTP/1.1 <code> <reason>\r\n`, made once per status (the common ones are constants).
  let http1StatusLine: [UInt8]

  public init(code: Int, reason: String? = nil) {
    self.code = code
    self.reason = reason ?? HTTPStatus.standardReason(code)
    var line: [UInt8] = []
    line.append(literal: "HTTP/1.1 ")
    DecimalDigits.append(code, to: &line)
    line.append(UInt8(ascii: " "))
    line.append(contentsOf: self.reason.utf8)
    line.append(literal: "\r\n")
    http1StatusLine = line
  }

  public var description: String { "\(code) \(reason)" }

  public static let `continue` = HTTPStatus(code: 100)
  public static let switchingProtocols = HTTPStatus(code: 101)
  public static let ok = HTTPStatus(code: 200)
  public static let created = HTTPStatus(code: 201)
  public static let accepted = HTTPStatus(code: 202)
  public static let noContent = HTTPStatus(code: 204)
  public static let notModified = HTTPStatus(code: 304)
  public static let badRequest = HTTPStatus(code: 400)
  public static let unauthorized = HTTPStatus(code: 401)
  public static let forbidden = HTTPStatus(code: 403)
  public static let notFound = HTTPStatus(code: 404)
  public static let methodNotAllowed = HTTPStatus(code: 405)
  public static let requestTimeout = HTTPStatus(code: 408)
  public static let contentTooLarge = HTTPStatus(code: 413)
  public static let unprocessableContent = HTTPStatus(code: 422)
  public static let uriTooLong = HTTPStatus(code: 414)
  public static let unsupportedMediaType = HTTPStatus(code: 415)
  public static let expectationFailed = HTTPStatus(code: 417)
  public static let tooManyRequests = HTTPStatus(code: 429)
  public static let requestHeaderFieldsTooLarge = HTTPStatus(code: 431)
  public static let internalServerError = HTTPStatus(code: 500)
  public static let notImplemented = HTTPStatus(code: 501)
  public static let badGateway = HTTPStatus(code: 502)
  public static let serviceUnavailable = HTTPStatus(code: 503)
  public static let gatewayTimeout = HTTPStatus(code: 504)
  public static let httpVersionNotSupported = HTTPStatus(code: 505)

  /// The RFC 9110 reason phrase of a code, or "Status" for codes it does not name.
  public static func standardReason(_ code: Int) -> String {
    switch code {
    case 100: "Continue"
    case 101: "Switching Protocols"
    case 200: "OK"
    case 201: "Created"
    case 202: "Accepted"
    case 204: "No Content"
    case 206: "Partial Content"
    case 301: "Moved Permanently"
    case 302: "Found"
    case 304: "Not Modified"
    case 400: "Bad Request"
    case 401: "Unauthorized"
    case 403: "Forbidden"
    case 404: "Not Found"
    case 405: "Method Not Allowed"
    case 408: "Request Timeout"
    case 409: "Conflict"
    case 413: "Content Too Large"
    case 414: "URI Too Long"
    case 415: "Unsupported Media Type"
    case 417: "Expectation Failed"
    case 422: "Unprocessable Content"
    case 429: "Too Many Requests"
    case 431: "Request Header Fields Too Large"
    case 500: "Internal Server Error"
    case 501: "Not Implemented"
    case 502: "Bad Gateway"
    case 503: "Service Unavailable"
    case 504: "Gateway Timeout"
    case 505: "HTTP Version Not Supported"
    default: "Status"
    }
  }
}

/// The protocol version a request came with: HTTP/1.0, HTTP/1.1 or HTTP/2.
public enum HTTPVersion: Sendable, Hashable {
  case http1_0, http1_1, http2
}
