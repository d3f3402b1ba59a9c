// A small server on HTTPCore alone, for bench/http.sh and the wire-level integration tests:
//   GET  /json            a fixed 400-byte JSON body (the nginx comparison route)
//   POST /echo            the request body back
//   GET  /hello/:name     a path parameter, percent-decoded
//   GET  /delay/:ms       answers after a loop timer (a responder used later)
//   GET  /query           the decoded query items as JSON
//   GET  /bytes/:count     a body of that many bytes (at most 64 MiB)
//   GET  /health          200
// Usage: http-bench-server [--port N] [--host H] [--threads N] [--max-connections N]
//        [--header-read-timeout S] [--idle-timeout S] [--send-timeout S] [--drain-timeout S]
//        [--max-body-bytes N]
import Codecs
import HTTPCore
import Reactor

#if canImport(Glibc)
  import Glibc
#endif

func fixedJSON() -> [UInt8] {
  var text = #"{"entity":"customer","id":"42","features":{"#
  var index = 0
  while text.utf8.count < 360 {
    text += (index == 0 ? "" : ",") + #""feature_\#(index)":\#(Double(index) * 1.25)"#
    index += 1
  }
  text += #"},"status":"PRESENT"}"#
  text += String(repeating: " ", count: max(0, 400 - text.utf8.count))
  return Array(text.utf8)
}

var configuration = ServerConfiguration()
configuration.host = "127.0.0.1"
var threads = 1
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let flag = arguments.next() {
  guard let value = arguments.next() else {
    writeDiagnostic("missing value for \(flag)")
    exit(2)
  }
  func number<T: LosslessStringConvertible>(_ parse: T.Type) -> T {
    guard let parsed = T(value) else {
      writeDiagnostic("\(flag): '\(value)' is not a valid value")
      exit(2)
    }
    return parsed
  }
  switch flag {
  case "--port": configuration.port = number(Int.self)
  case "--host": configuration.host = value
  case "--threads": threads = number(Int.self)
  case "--max-connections": configuration.maxConnections = number(Int.self)
  case "--header-read-timeout": configuration.headerReadTimeout = number(Double.self)
  case "--idle-timeout": configuration.idleTimeout = number(Double.self)
  case "--send-timeout": configuration.sendTimeout = number(Double.self)
  case "--drain-timeout": configuration.drainTimeout = number(Double.self)
  case "--max-body-bytes": configuration.limits.maxBodyBytes = number(Int.self)
  default:
    writeDiagnostic("unknown flag \(flag)")
    exit(2)
  }
}

let body = fixedJSON()
let jsonHeaders = HTTPHeaders.prerendered([("Content-Type", "application/json")])
let router = Router()
router.get("/json") { _, responder in
  responder.respond(HTTPResponse(headers: jsonHeaders, body: body))
}
router.get("/bytes/:count") { request, responder in
  let count = min(max(Int(request.parameters["count"] ?? "") ?? 0, 0), 64 << 20)
  responder.respond(HTTPResponse(body: [UInt8](repeating: UInt8(ascii: "x"), count: count)))
}
router.get("/health") { _, responder in
  responder.respond(HTTPResponse(contentType: "text/plain", body: "ok\n"))
}
router.post("/echo") { request, responder in
  responder.respond(HTTPResponse(headers: ["Content-Type": "application/octet-stream"], body: request.body))
}
router.get("/hello/:name") { request, responder in
  responder.respond(HTTPResponse(contentType: "text/plain", body: "hello \(request.parameters["name"] ?? "")"))
}
router.get("/delay/:ms") { request, responder in
  // At most a minute: a larger number would overflow the nanoseconds below.
  let milliseconds = min(UInt64(request.parameters["ms"] ?? "") ?? 0, 60_000)
  responder.eventLoop.schedule(afterNanoseconds: milliseconds * 1_000_000) {
    responder.respond(HTTPResponse(contentType: "text/plain", body: "waited \(milliseconds) ms"))
  }
}
router.get("/query") { request, responder in
  var text = "{"
  for (index, item) in request.queryItems.enumerated() {
    if index > 0 { text += "," }
    JSONText.appendString(item.name, to: &text)
    text += ":"
    JSONText.appendString(item.value, to: &text)
  }
  text += "}"
  responder.respond(HTTPResponse(contentType: "application/json", body: text))
}

do {
  let group = try EventLoopGroup(threads: threads)
  let server = HTTPServer(configuration: configuration, group: group, router: router)
  try ServerRunner.run(server: server, group: group) { port in
    writeDiagnostic("listening on \(configuration.host):\(port)")
  }
} catch {
  writeDiagnostic("http-bench-server: \(error)")
  exit(1)
}
