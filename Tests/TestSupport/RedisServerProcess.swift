import Foundation
import XCTest

/// A real redis-server on a free loopback port (and optionally a unix socket), started by a test
/// and killed when it is done. Nothing is persisted.
public final class RedisServerProcess {
  public let port: Int
  public let socketPath: String
  private let extraArguments: [String]
  private var process: Process?

  public init(extraArguments: [String] = []) throws {
    guard FileManager.default.isExecutableFile(atPath: "/usr/bin/redis-server") else {
      throw XCTSkip("redis-server is not installed (scripts/setup.sh installs it)")
    }
    port = try freeTCPPort()
    socketPath = "/tmp/featureserver-test-\(getpid())-\(port).sock"
    self.extraArguments = extraArguments
    try start()
  }

  deinit { kill(signal: SIGKILL) }

  public func start() throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/redis-server")
    process.arguments =
      [
        "--port", "\(port)", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
        "--unixsocket", socketPath, "--unixsocketperm", "700", "--enable-debug-command", "yes",
        "--maxclients", "1000", "--daemonize", "no", "--loglevel", "warning",
      ] + extraArguments
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    self.process = process
    for _ in 0..<200 {
      if (try? cli(["PING"]))?.contains("PONG") == true || (try? cli(["PING"]))?.contains("NOAUTH") == true {
        return
      }
      usleep(25_000)
    }
    throw NSError(domain: "redis-server did not start on port \(port)", code: 1)
  }

  /// Sends a signal and waits for the process to end.
  public func kill(signal: Int32) {
    guard let process, process.isRunning else { return }
    Glibc.kill(process.processIdentifier, signal)
    process.waitUntilExit()
    self.process = nil
  }

  /// Runs redis-cli against this server and returns its output.
  @discardableResult
  public func cli(_ arguments: [String], user: String? = nil, password: String? = nil) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/redis-cli")
    var args = ["-p", "\(port)", "--no-auth-warning"]
    if let user { args += ["--user", user] }
    if let password { args += ["--pass", password] }
    process.arguments = args + arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: data, as: UTF8.self)
  }
}

public func freeTCPPort() throws -> Int {
  let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
  defer { close(fd) }
  var address = sockaddr_in()
  address.sin_family = sa_family_t(AF_INET)
  address.sin_addr.s_addr = inet_addr("127.0.0.1")
  _ = withUnsafePointer(to: &address) {
    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
  }
  var bound = sockaddr_in()
  var length = socklen_t(MemoryLayout<sockaddr_in>.size)
  _ = withUnsafeMutablePointer(to: &bound) {
    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
  }
  return Int(UInt16(bigEndian: bound.sin_port))
}

/// Open file descriptors of this process.
public func openFileDescriptorCount() -> Int {
  (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -1
}

/// Polls `condition` every 10 ms until it holds or `timeout` seconds pass; returns the seconds
/// it took, or nil.
public func waitUntil(timeout: Double, _ condition: () -> Bool) -> Double? {
  let start = Date()
  while Date().timeIntervalSince(start) < timeout {
    if condition() { return Date().timeIntervalSince(start) }
    usleep(10_000)
  }
  return condition() ? Date().timeIntervalSince(start) : nil
}

/// Thread-safe collection of results from loop callbacks.
public final class Collected<Value>: @unchecked Sendable {
  private let lock = NSLock()
  private var storage: [Value] = []
  public init() {}
  public func append(_ value: Value) { lock.withLock { storage.append(value) } }
  public var values: [Value] { lock.withLock { storage } }
  public var count: Int { lock.withLock { storage.count } }
}
