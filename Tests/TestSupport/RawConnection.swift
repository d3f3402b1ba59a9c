import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// A blocking loopback TCP client for wire-level tests: send exact bytes, read what comes back.
public final class RawConnection {
  public let fd: Int32

  public init(port: Int, receiveTimeout: Double = 5) throws {
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
    guard rc == 0 else { throw NSError(domain: "connect to \(port) failed: errno \(errno)", code: Int(errno)) }
    var timeout = timeval(
      tv_sec: Int(receiveTimeout), tv_usec: Int((receiveTimeout - Double(Int(receiveTimeout))) * 1e6))
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
  }

  deinit { close(fd) }

  public func send(_ text: String) { send(Array(text.utf8)) }

  public func send(_ bytes: [UInt8]) {
    var offset = 0
    while offset < bytes.count {
      let n = bytes.withUnsafeBytes {
        Glibc.send(fd, $0.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
      }
      if n < 0 && errno == EINTR { continue }
      if n <= 0 { return }
      offset += n
    }
  }

  /// Reads until the server closes (true) or the receive timeout passes (false).
  public func readUntilClose() -> (text: String, closed: Bool) {
    var received: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
      let n = read(fd, &buffer, buffer.count)
      if n > 0 {
        received.append(contentsOf: buffer[0..<n])
        continue
      }
      if n < 0 && errno == EINTR { continue }  // a signal (a child process ending), not the server
      return (String(decoding: received, as: UTF8.self), n == 0 || errno == ECONNRESET)
    }
  }

  /// Reads until `count` complete responses (by Content-Length) have arrived, or timeout.
  public func readResponses(_ count: Int) -> [String] {
    var received: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
      let responses = RawConnection.split(String(decoding: received, as: UTF8.self))
      if responses.count >= count { return responses }
      let n = read(fd, &buffer, buffer.count)
      if n < 0 && errno == EINTR { continue }  // a signal (a child process ending), not the server
      if n <= 0 { return responses }
      received.append(contentsOf: buffer[0..<n])
    }
  }

  /// Splits a stream of responses framed by Content-Length (no chunked; ours never chunk).
  public static func split(_ stream: String) -> [String] {
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
public func runCommand(
  _ executable: String, _ arguments: [String], environment: [String: String] = [:], timeout: Double = 60
) throws -> (status: Int32, output: String) {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: executable)
  process.arguments = arguments
  if !environment.isEmpty {
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
  }
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
public func which(_ tool: String) -> String? {
  for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
    let path = "\(directory)/\(tool)"
    if FileManager.default.isExecutableFile(atPath: path) { return path }
  }
  return nil
}

/// The directory holding the package's built products (beside the test bundle).
public var productsDirectory: URL {
  URL(fileURLWithPath: CommandLine.arguments.first { $0.hasSuffix(".xctest") } ?? CommandLine.arguments[0])
    .deletingLastPathComponent()
}

/// The package's root directory (for scripts under Tests/).
public var packageRoot: URL {
  URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
}

/// Data handed from a reader thread to the test.
public final class LockedData: @unchecked Sendable {
  private let lock = NSLock()
  private var data = Data()
  public func set(_ value: Data) { lock.withLock { data = value } }
  public func get() -> Data { lock.withLock { data } }
}
