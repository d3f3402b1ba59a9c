import Reactor

/// Answers one request, exactly once. Call `respond` from the request's loop (the usual case, e.g.
/// in a Redis reply callback) or from any other thread (it hops to the loop).
///
/// A responder dropped without answering is a bug in a handler: the client gets a 500, the
/// server's `droppedResponders` statistic counts it, and a line is logged.
public final class HTTPResponder: @unchecked Sendable {
  /// The loop the request arrived on; handlers use it for timers and per-loop resources.
  public let eventLoop: EventLoop
  let connection: HTTPServerConnection
  let sequence: UInt64
  private var answered = false

  init(eventLoop: EventLoop, connection: HTTPServerConnection, sequence: UInt64) {
    self.eventLoop = eventLoop
    self.connection = connection
    self.sequence = sequence
  }

  /// Sends the response. A second call is ignored (and counted as a handler bug).
  public func respond(_ response: HTTPResponse) {
    if eventLoop.inEventLoop {
      deliver(response)
    } else {
      eventLoop.execute { self.deliver(response) }
    }
  }

  private func deliver(_ response: HTTPResponse) {
    guard !answered else {
      connection.context.server.statistics.record(.doubleResponse)
      return
    }
    answered = true
    connection.complete(sequence, response)
  }

  deinit {
    guard !answered else { return }
    let connection = UncheckedBox(connection)
    let sequence = sequence
    let report: @Sendable () -> Void = {
      connection.value.context.server.statistics.record(.droppedResponder)
      httpLogger.error(
        "a handler dropped its responder without answering; answered 500", metadata: ["request": "\(sequence)"])
      connection.value.complete(
        sequence, .error(.internalServerError, code: "internal_error", message: "the handler did not answer"))
    }
    if eventLoop.inEventLoop { report() } else { eventLoop.execute(report) }
  }
}

/// Carries a loop-confined value through a `@Sendable` closure that runs on that same loop.
struct UncheckedBox<Value>: @unchecked Sendable {
  let value: Value
  init(_ value: Value) { self.value = value }
}
