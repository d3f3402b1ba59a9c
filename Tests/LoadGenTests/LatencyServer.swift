import Atomics
import Foundation
import HTTPCore
import Reactor
import XCTest

/// A server on its own loop whose answers are delayed on purpose: `/fast`; `/sometimes` holds
/// every `every`-th request for `delay` ms (on a loop timer); `/stall` blocks its loop thread for
/// one second, once, `stallAfter` seconds after start.
final class LatencyServer: @unchecked Sendable {
  let group: EventLoopGroup
  let server: HTTPServer
  var port: Int { server.port }
  let counter = ManagedAtomic<Int>(0)
  let stalled = ManagedAtomic<Bool>(false)
  let started = monotonicNanoseconds()

  init(every: Int = 50, delayMilliseconds: UInt64 = 20, stallAfter: Double = 1) throws {
    var configuration = ServerConfiguration()
    configuration.host = "127.0.0.1"
    configuration.port = 0
    let router = Router()
    router.get("/fast") { _, responder in
      responder.respond(HTTPResponse(contentType: "text/plain", body: "ok"))
    }
    router.get("/missing") { _, responder in
      responder.respond(HTTPResponse(status: .notFound, contentType: "text/plain", body: "no"))
    }
    router.get("/sometimes") { [counter] _, responder in
      let count = counter.wrappingIncrementThenLoad(ordering: .relaxed)
      if count % every == 0 {
        responder.eventLoop.schedule(afterNanoseconds: delayMilliseconds * 1_000_000) {
          responder.respond(HTTPResponse(contentType: "text/plain", body: "slow"))
        }
      } else {
        responder.respond(HTTPResponse(contentType: "text/plain", body: "fast"))
      }
    }
    let started = self.started
    router.get("/stall") { [stalled] _, responder in
      if Double(monotonicNanoseconds() - started) / 1e9 > stallAfter,
        stalled.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged
      {
        usleep(1_000_000)  // the whole loop stops: every connection waits
      }
      responder.respond(HTTPResponse(contentType: "text/plain", body: "ok"))
    }
    group = try EventLoopGroup(threads: 1)
    try group.start()
    server = HTTPServer(configuration: configuration, group: group, router: router)
    try server.start()
  }

  func stop() {
    let done = DispatchSemaphore(value: 0)
    server.shutdown { done.signal() }
    _ = done.wait(timeout: .now() + 15)
    group.stop()
    group.wait()
  }
}
