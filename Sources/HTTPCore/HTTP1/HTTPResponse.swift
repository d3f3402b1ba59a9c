import Codecs

/// A response a handler gives. Content-Length, Date and Connection are set by the server.
public struct HTTPResponse: Sendable {
  public var status: HTTPStatus
  public var headers: HTTPHeaders
  public var body: [UInt8]

  public init(status: HTTPStatus = .ok, headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = []) {
    self.status = status
    self.headers = headers
    self.body = body
  }

  /// A response with a UTF-8 body and the given content type.
  public init(status: HTTPStatus = .ok, contentType: String, body: String) {
    self.init(status: status, headers: HTTPHeaders([("Content-Type", contentType)]), body: Array(body.utf8))
  }

  /// A JSON error body `{"error": code, "message": text}`, the shape every error of ours has.
  public static func error(_ status: HTTPStatus, code: String, message: String) -> HTTPResponse {
    var body = #"{"error":"#
    JSONText.appendString(code, to: &body)
    body += #","message":"#
    JSONText.appendString(message, to: &body)
    body += "}"
    return HTTPResponse(status: status, contentType: "application/json", body: body)
  }
}
