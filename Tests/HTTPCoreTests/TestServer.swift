import Foundation
import Reactor
import TestSupport
import XCTest

@testable import HTTPCore

/// An HTTPCore server on a free loopback port with routes that tests need, on its own loops.
final class TestServer {
  let group: EventLoopGroup
  let server: HTTPServer
  var port: Int { server.port }

  init(threads: Int = 2, configure: (inout ServerConfiguration) -> Void = { _ in }) throws {
    var configuration = ServerConfiguration()
    configuration.host = "127.0.0.1"
    configuration.port = 0
    configure(&configuration)
    let router = Router()
    router.get("/hello/:name") { request, responder in
      responder.respond(HTTPResponse(contentType: "text/plain", body: "hello \(request.parameters["name"] ?? "")"))
    }
    router.post("/echo") { request, responder in
      responder.respond(HTTPResponse(headers: ["Content-Type": "application/octet-stream"], body: request.body))
    }
    router.get("/delay/:ms") { request, responder in
      let milliseconds = UInt64(request.parameters["ms"] ?? "") ?? 0
      responder.eventLoop.schedule(afterNanoseconds: milliseconds * 1_000_000) {
        responder.respond(HTTPResponse(contentType: "text/plain", body: "waited \(milliseconds)"))
      }
    }
    router.get("/from-another-thread") { _, responder in
      DispatchQueue.global().async {
        responder.respond(HTTPResponse(contentType: "text/plain", body: "hopped"))
      }
    }
    router.get("/drop") { _, _ in }  // a buggy handler: never answers
    router.get("/twice") { _, responder in
      responder.respond(HTTPResponse(contentType: "text/plain", body: "first"))
      responder.respond(HTTPResponse(contentType: "text/plain", body: "second"))
    }
    router.get("/work/:microseconds") { request, responder in
      // An expensive route: busy for the given time, then an 8 KiB answer.
      let microseconds = UInt64(request.parameters["microseconds"] ?? "") ?? 0
      let until = monotonicNanoseconds() + microseconds * 1000
      while monotonicNanoseconds() < until {}
      responder.respond(HTTPResponse(body: [UInt8](repeating: UInt8(ascii: "w"), count: 8192)))
    }
    router.get("/headers") { request, responder in
      // The request's fields as the handler sees them, one `name=value` line each.
      let lines = request.headers.map { "\($0.name)=\($0.value)\n" }.joined()
      responder.respond(HTTPResponse(contentType: "text/plain", body: lines))
    }
    router.get("/big/:bytes") { request, responder in
      let count = Int(request.parameters["bytes"] ?? "") ?? 0
      responder.respond(HTTPResponse(body: [UInt8](repeating: UInt8(ascii: "x"), count: count)))
    }
    group = try EventLoopGroup(threads: threads)
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
