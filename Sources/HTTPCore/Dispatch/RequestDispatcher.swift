/// Turns a parsed request into a handler call, whatever protocol carried it: the router match,
/// the 404 / 405 (with `Allow`) / 400 policy and the route pattern handlers label metrics with.
/// HTTP/1.1 and HTTP/2 both call it; tests call it with an in-memory `ResponseSink`.
public final class RequestDispatcher: Sendable {
  public let router: Router

  public init(router: Router) {
    self.router = router
  }

  /// Runs the handler for `request`, or answers the routing error through `responder`.
  /// `request` is consumed: the route's parameters are set in place, not on a copy.
  public func dispatch(_ request: consuming HTTPRequest, _ responder: HTTPResponder) {
    switch router.match(request.method, target: request.target) {
    case .found(let handler, let pattern, let parameters):
      request.parameters = parameters
      request.routePattern = pattern
      handler(request, responder)
    case .methodNotAllowed(let allowed):
      var response = HTTPResponse.error(
        .methodNotAllowed, code: "method_not_allowed", message: "\(request.method) is not allowed here")
      response.headers.add(name: "Allow", value: allowed.map(\.description).joined(separator: ", "))
      responder.respond(response)
    case .notFound:
      responder.respond(.error(.notFound, code: "not_found", message: "no route for \(request.path)"))
    case .badPath(let reason):
      responder.respond(.error(.badRequest, code: "bad_request", message: reason))
    }
  }
}
