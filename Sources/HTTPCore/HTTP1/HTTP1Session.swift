import Codecs
import Reactor

/// HTTP/1.1 on one connection: requests framed by `HTTP1RequestReader`, dispatched as they
/// complete (pipelining), answered in request order by `PipelineOrder`. Errors answer with their
/// status and close (lingering, so the client reads the answer); keep-alive follows the version
/// and `Connection`.
final class HTTP1Session: ConnectionSession, ResponseSink {
  /// Held strongly: a responder still waiting for its handler keeps the session, and the session
  /// its (by then closed) connection, alive. The connection drops its session when it closes.
  let connection: ServerConnection
  let dispatcher: RequestDispatcher
  private var reader = HTTP1RequestReader()
  private var order = PipelineOrder()
  /// No more requests are taken from this connection (closing, draining, or it failed).
  private var stopParsing = false
  private var ended = false
  private var draining = false

  init(connection: ServerConnection, dispatcher: RequestDispatcher) {
    self.connection = connection
    self.dispatcher = dispatcher
  }

  private var configuration: ServerConfiguration { connection.configuration }
  private var statistics: ServerStatistics { connection.context.server.statistics }
  private var budget: MemoryBudget { connection.context.server.budget }

  static func ceiling(_ limits: HTTPLimits) -> Int { HTTP1RequestReader.ceiling(limits) }

  // MARK: ConnectionSession

  var inputCeiling: Int { Self.ceiling(configuration.limits) }

  var wantsInput: Bool { !stopParsing && order.inFlight < configuration.maxPipelinedRequests }

  var hasOutstandingWork: Bool { order.inFlight > 0 }

  var isIdle: Bool { order.inFlight == 0 && !reader.isMidRequest }

  func process(_ budget: inout PassBudget) -> ProcessResult {
    while true {
      if stopParsing || connection.closed { return .blocked }
      if order.inFlight >= configuration.maxPipelinedRequests || connection.outputIsFull { return .blocked }
      // Nothing buffered: nothing to take, so no budget spent and no clock read (the common case
      // once a keep-alive request has been answered).
      if connection.input.isEmpty && !ended { return .needsInput }
      guard budget.allowsAnother(outputPending: connection.output.pendingBytes) else { return .budgetSpent }
      switch reader.next(&connection.input, limits: configuration.limits, budget: self.budget, now: connection.loop.now)
      {
      case .needMore:
        if ended {
          // The peer half-closed: a partial request can never complete.
          reader.abandon(budget: self.budget)
          connection.input.reset()
        } else if reader.continueRequested {
          sendContinue()
        }
        return .needsInput
      case .failure(let error):
        fail(error)
        return .blocked
      case .request(let request, let keepAlive):
        budget.requestsLeft -= 1
        dispatch(request, keepAlive: keepAlive)
      }
    }
  }

  func inputOverflowed() {
    fail(HTTPParseError(.requestHeaderFieldsTooLarge, "request head too large"))
  }

  func inputEnded() {
    ended = true
  }

  func sweep(now: UInt64) {
    if stopParsing { return }
    if reader.headStartedAt != 0
      && now &- reader.headStartedAt > nanoseconds(fromSeconds: configuration.headerReadTimeout)
    {
      statistics.record(.headerTimeout)
      fail(
        HTTPParseError(.requestTimeout, "request head not received within \(configuration.headerReadTimeout) s"),
        counted: false)
    } else if reader.bodyStartedAt != 0
      && now &- reader.bodyStartedAt > nanoseconds(fromSeconds: configuration.bodyReadTimeout)
    {
      statistics.record(.bodyTimeout)
      fail(
        HTTPParseError(.requestTimeout, "request body not received within \(configuration.bodyReadTimeout) s"),
        counted: false)
    }
  }

  func beginDraining() {
    draining = true
    if isIdle && connection.output.isEmpty {
      connection.close()
    } else if !reader.isMidRequest {
      stopParsing = true
      if order.closeAfterLastAdmitted() {
        connection.input.reset()
      } else {
        connection.closeAfterFlush()
        connection.flush()
      }
    }
    // Mid-request: the request is read to its end, answered, and the connection then closes
    // (dispatch sees `draining`).
  }

  func connectionClosed() {
    reader.abandon(budget: budget)
    order.reset()
  }

  func fillOutput() {}

  var heldOutputBytes: Int { 0 }

  // MARK: Requests

  private func dispatch(_ request: consuming HTTPRequest, keepAlive: Bool) {
    if order.nextSequence == 0, configuration.http2.enabled, let settings = Self.h2cUpgradeSettings(request) {
      upgrade(request, settings: settings)
      return
    }
    statistics.recordRequest(protocol: .http1, loop: connection.loop.index)
    let sequence = order.admit(
      .init(keepAlive: keepAlive, version: request.version, isHead: request.method == .head))
    if !keepAlive || draining {
      stopParsing = true
      order.closeAfter(sequence)
    }
    dispatcher.dispatch(request, HTTPResponder(eventLoop: connection.loop, sink: self, token: sequence))
  }

  /// The SETTINGS payload when `request` asks for `Upgrade: h2c` as RFC 7540 §3.2 has it (one
  /// valid HTTP2-Settings, and Connection naming both Upgrade and HTTP2-Settings), else nil.
  /// Requests with a body, and HEAD, are answered over HTTP/1.1 instead (the upgrade is optional,
  /// RFC 7540 §3.2): clients handle an upgraded body or HEAD answer poorly (curl 7.88 fails both).
  static func h2cUpgradeSettings(_ request: HTTPRequest) -> [UInt8]? {
    guard request.version == .http1_1, request.body.isEmpty, request.method != .head,
      let upgrade = request.headers["upgrade"],
      upgrade.split(separator: ",").contains(where: { ASCII.equalsIgnoringCase($0.trimmingSpaces, "h2c") })
    else { return nil }
    let settings = request.headers.values(for: "http2-settings")
    let tokens = request.headers.values(for: "connection").flatMap { $0.split(separator: ",") }.map(\.trimmingSpaces)
    guard settings.count == 1, tokens.contains(where: { ASCII.equalsIgnoringCase($0, "upgrade") }),
      tokens.contains(where: { ASCII.equalsIgnoringCase($0, "http2-settings") })
    else { return nil }
    return HTTP2Preface.settingsPayload(settings[0])
  }

  /// Answers 101 and hands the connection to HTTP/2; the request is answered on stream 1.
  private func upgrade(_ request: HTTPRequest, settings: [UInt8]) {
    stopParsing = true
    connection.output.appendInPlace {
      $0.append(contentsOf: "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n".utf8)
    }
    let http2 = HTTP2Session(connection: connection, dispatcher: dispatcher)
    connection.switchSession(to: http2)
    statistics.recordRequest(protocol: .http2, loop: connection.loop.index)
    if !http2.upgrade(from: request, settings: settings) { connection.close() }
  }

  private func sendContinue() {
    reader.continueRequested = false
    // An interim response may only go out when nothing earlier is still unanswered.
    guard order.inFlight == 0 else { return }
    connection.output.appendInPlace { $0.append(contentsOf: "HTTP/1.1 100 Continue\r\n\r\n".utf8) }
  }

  /// Answers a request that could not be parsed, then closes.
  private func fail(_ error: HTTPParseError, counted: Bool = true) {
    if counted { statistics.record(error.status.code == 503 ? .bodyBudgetRejected : .parseError) }
    stopParsing = true
    reader.abandon(budget: budget)
    let sequence = order.admit(.init(keepAlive: false, version: .http1_1, isHead: false))
    order.closeAfter(sequence)
    var response = HTTPResponse.error(error.status, code: Self.errorCode(error.status), message: error.reason)
    if error.status.code == 503 { response.headers.add(name: "Retry-After", value: "1") }
    deliver(response, token: sequence)
  }

  private static func errorCode(_ status: HTTPStatus) -> String {
    switch status.code {
    case 408: "request_timeout"
    case 413: "content_too_large"
    case 414: "uri_too_long"
    case 417: "expectation_failed"
    case 431: "header_fields_too_large"
    case 501: "not_implemented"
    case 503: "overloaded"
    case 505: "http_version_not_supported"
    default: "bad_request"
    }
  }

  // MARK: ResponseSink

  func deliver(_ response: HTTPResponse, token sequence: UInt64) {
    if connection.closed { return }
    let last = order.complete(sequence, response, into: &connection.output, date: connection.context.date)
    if last {
      connection.input.reset()
      connection.closeAfterFlush()
    }
    connection.outputChanged()
  }

  func record(_ event: ServerStatistics.Event) {
    statistics.record(event)
  }
}
