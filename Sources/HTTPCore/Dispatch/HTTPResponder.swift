import Reactor

/// Where a responder's answer goes: an HTTP/1.1 connection (which puts it in request order), an
/// HTTP/2 stream, or an in-memory sink in tests. Called on the responder's loop only.
public protocol ResponseSink: AnyObject {
  /// Delivers the one response for request `token` (a pipeline sequence number, a stream id).
  func deliver(_ response: HTTPResponse, token: UInt64)
  /// Counts a misused responder (dropped unanswered, or answered twice).
  func record(_ event: ServerStatistics.Event)
}

/// Answers one request, exactly once. Call `respond` from the request's loop (the usual case, e.g.
/// in a Redis reply callback) or from any other thread (it hops to the loop).
///
/// A responder dropped without answering is a bug in a handler: the client gets a 500, the
/// server's `droppedResponders` statistic counts it, and a line is logged.
public final class HTTPResponder: @unchecked Sendable {
  /// The loop the request arrived on; handlers use it for timers and per-loop resources.
  public let eventLoop: EventLoop
  let sink: ResponseSink
  let token: UInt64
  private var answered = false

  /// A responder that delivers to `sink` on `eventLoop` (protocols and in-memory tests).
  public init(eventLoop: EventLoop, sink: ResponseSink, token: UInt64) {
    self.eventLoop = eventLoop
    self.sink = sink
    self.token = token
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
      sink.record(.doubleResponse)
      return
    }
    answered = true
    sink.deliver(response, token: token)
  }

  deinit {
    guard !answered else { return }
    let sink = UncheckedBox(sink)
    let token = token
    let report: @Sendable () -> Void = {
      sink.value.record(.droppedResponder)
      httpLogger.error(
        "a handler dropped its responder without answering; answered 500", metadata: ["request": "\(token)"])
      sink.value.deliver(
        .error(.internalServerError, code: "internal_error", message: "the handler did not answer"), token: token)
    }
    if eventLoop.inEventLoop { report() } else { eventLoop.execute(report) }
  }
}

/// Carries a loop-confined value through a `@Sendable` closure that runs on that same loop.
struct UncheckedBox<Value>: @unchecked Sendable {
  let value: Value
  init(_ value: Value) { self.value = value }
}
