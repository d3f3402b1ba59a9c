import Codecs
import HTTPCore

/// Why a Feast API request is refused, and the response Feast's clients understand for it.
enum FeastRequestError: Error {
  /// The body is not JSON (FastAPI's 422 `json_invalid`).
  case syntax(JSONScanner.SyntaxError)
  /// A required member is absent (422 `missing`).
  case missing([String])
  /// A member has the wrong shape or value (422 `value_error`), at a FastAPI-style location.
  case invalid([String], String)
  /// Over one of our limits (413, as a FeastError).
  case tooLarge(String)
  /// A Feast error: the SDK re-raises `feast.errors.<className>` from it.
  case feast(className: String, message: String, status: HTTPStatus)
  /// Redis cannot answer now (503 with Retry-After; the SDK retries).
  case unavailable(String)

  static func featureViewNotFound(_ name: String, project: String) -> FeastRequestError {
    .feast(
      className: "FeatureViewNotFoundException", message: "Feature view \(name) does not exist in project \(project)",
      status: .notFound)
  }

  var response: HTTPResponse {
    switch self {
    case .syntax(let error):
      return Self.detail(
        type: "json_invalid", location: ["body", "\(error.offset)"], message: "JSON decode error: \(error.message)")
    case .missing(let location):
      return Self.detail(type: "missing", location: location, message: "Field required")
    case .invalid(let location, let message):
      return Self.detail(type: "value_error", location: location, message: message)
    case .tooLarge(let message):
      return Self.feastError("FeastError", message, status: .contentTooLarge)
    case .feast(let className, let message, let status):
      return Self.feastError(className, message, status: status)
    case .unavailable(let message):
      var response = Self.feastError("FeastError", message, status: .serviceUnavailable)
      response.headers.add(name: "Retry-After", value: "1")
      return response
    }
  }

  /// FastAPI's validation error body: `{"detail": [{"type", "loc", "msg"}]}`.
  private static func detail(type: String, location: [String], message: String) -> HTTPResponse {
    var body: [UInt8] = []
    body.append(contentsOf: #"{"detail":[{"type":"#.utf8)
    JSONText.appendString(type, to: &body)
    body.append(contentsOf: #","loc":["#.utf8)
    for (index, part) in location.enumerated() {
      if index > 0 { body.append(UInt8(ascii: ",")) }
      if let number = Int(part), index > 0 {
        body.append(contentsOf: String(number).utf8)
      } else {
        JSONText.appendString(part, to: &body)
      }
    }
    body.append(contentsOf: #"],"msg":"#.utf8)
    JSONText.appendString(message, to: &body)
    body.append(contentsOf: "}]}".utf8)
    return HTTPResponse(status: .unprocessableContent, headers: jsonHeaders, body: body)
  }

  /// Feast's own error body: a JSON string holding `{"module", "class", "message"}` (encoded
  /// twice, exactly as `feast serve` answers), which the SDK turns back into the exception.
  static func feastError(_ className: String, _ message: String, status: HTTPStatus) -> HTTPResponse {
    var inner = #"{"module": "feast.errors", "class": "#
    JSONText.appendString(className, to: &inner)
    inner += #", "message": "#
    JSONText.appendString(message, to: &inner)
    inner += "}"
    var body: [UInt8] = []
    JSONText.appendString(inner, to: &body)
    return HTTPResponse(status: status, headers: jsonHeaders, body: body)
  }
}
