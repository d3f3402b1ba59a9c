import Foundation
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

/// A blocking loopback TCP client for wire-level tests: send exact bytes, read what comes back.
final class RawConnection {
  let fd: Int32

  init(port: Int, receiveTimeout: Double = 5) throws {
    fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let rc = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    }
    guard rc == 0 else { throw SystemError("connect") }
    var timeout = timeval(
      tv_sec: Int(receiveTimeout), tv_usec: Int((receiveTimeout - Double(Int(receiveTimeout))) * 1e6))
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
  }

  deinit { close(fd) }

  func send(_ text: String) { send(Array(text.utf8)) }

  func send(_ bytes: [UInt8]) {
    var offset = 0
    while offset < bytes.count {
      let n = bytes.withUnsafeBytes {
        Glibc.send(fd, $0.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
      }
      if n <= 0 { return }
      offset += n
    }
  }

  /// Reads until the server closes (true) or the receive timeout passes (false).
  func readUntilClose() -> (text: String, closed: Bool) {
    var received: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
      let n = read(fd, &buffer, buffer.count)
      if n > 0 {
        received.append(contentsOf: buffer[0..<n])
        continue
      }
      return (String(decoding: received, as: UTF8.self), n == 0 || errno == ECONNRESET)
    }
  }

  /// Reads until `count` complete responses (by Content-Length) have arrived, or timeout.
  func readResponses(_ count: Int) -> [String] {
    var received: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
      let responses = RawConnection.split(String(decoding: received, as: UTF8.self))
      if responses.count >= count { return responses }
      let n = read(fd, &buffer, buffer.count)
      if n <= 0 { return responses }
      received.append(contentsOf: buffer[0..<n])
    }
  }

  /// Splits a stream of responses framed by Content-Length (no chunked; ours never chunk).
  static func split(_ stream: String) -> [String] {
    var responses: [String] = []
    var rest = Substring(stream)
    while let headEnd = rest.range(of: "\r\n\r\n") {
      let head = rest[..<headEnd.lowerBound]
      var length = 0
      for line in head.split(separator: "\r\n") where line.lowercased().hasPrefix("content-length:") {
        length = Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) ?? 0
      }
      let bodyStart = headEnd.upperBound
      guard rest.utf8.distance(from: bodyStart, to: rest.endIndex) >= length else { break }
      let bodyEnd = rest.utf8.index(bodyStart, offsetBy: length)
      responses.append(String(rest[..<bodyEnd]))
      rest = rest[bodyEnd...]
    }
    return responses
  }
}

/// Runs a command, returning its exit status and combined output.
func runCommand(_ executable: String, _ arguments: [String], timeout: Double = 60) throws -> (
  status: Int32, output: String
) {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: executable)
  process.arguments = arguments
  let pipe = Pipe()
  process.standardOutput = pipe
  process.standardError = pipe
  try process.run()
  let deadline = Date().addingTimeInterval(timeout)
  let collected = LockedData()
  let finished = DispatchSemaphore(value: 0)
  DispatchQueue.global().async {
    collected.set(pipe.fileHandleForReading.readDataToEndOfFile())
    finished.signal()
  }
  while process.isRunning && Date() < deadline { usleep(10_000) }
  if process.isRunning { process.terminate() }
  _ = finished.wait(timeout: .now() + 5)
  process.waitUntilExit()
  let data = collected.get()
  return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// The absolute path of a tool on PATH, or nil.
func which(_ tool: String) -> String? {
  for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
    let path = "\(directory)/\(tool)"
    if FileManager.default.isExecutableFile(atPath: path) { return path }
  }
  return nil
}

/// The directory holding the package's built products (beside the test bundle).
var productsDirectory: URL {
  URL(fileURLWithPath: CommandLine.arguments.first { $0.hasSuffix(".xctest") } ?? CommandLine.arguments[0])
    .deletingLastPathComponent()
}

/// The package's root directory (for scripts under Tests/).
var packageRoot: URL {
  URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
}

/// Data handed from a reader thread to the test.
final class LockedData: @unchecked Sendable {
  private let lock = NSLock()
  private var data = Data()
  func set(_ value: Data) { lock.withLock { data = value } }
  func get() -> Data { lock.withLock { data } }
}
