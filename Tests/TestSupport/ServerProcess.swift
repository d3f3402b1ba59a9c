import Foundation
import XCTest

#if canImport(Glibc)
  import Glibc
#endif

/// The real `featureserver` binary serving on a free port, for tests of what only the process
/// shows (its own Redis, its listening socket, its limits). Stopped with SIGTERM.
public final class ServerProcess {
  public let port: Int
  public let process = Process()
  private let logFile: URL

  /// Starts `featureserver serve` with `arguments` (plus `--bind 127.0.0.1 --port <free>`) and
  /// waits until `/ready` answers 200.
  public init(
    arguments: [String], environment: [String: String] = [:], port: Int? = nil, readyTimeout: Double = 30
  ) throws {
    let binary = productsDirectory.appendingPathComponent("featureserver").path
    guard FileManager.default.isExecutableFile(atPath: binary) else { throw XCTSkip("featureserver not built") }
    self.port = try port ?? freeTCPPort()
    logFile = FileManager.default.temporaryDirectory.appendingPathComponent(
      "featureserver-\(getpid())-\(self.port).log")
    FileManager.default.createFile(atPath: logFile.path, contents: nil)
    process.executableURL = URL(fileURLWithPath: binary)
    process.arguments = ["serve", "--bind", "127.0.0.1", "--port", "\(self.port)"] + arguments
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    process.standardError = try FileHandle(forWritingTo: logFile)
    process.standardOutput = FileHandle.nullDevice
    try process.run()
    let deadline = Date().addingTimeInterval(readyTimeout)
    while Date() < deadline {
      if !process.isRunning { throw ServerProcessError("featureserver exited at start: \(log.suffix(2000))") }
      if let connection = try? RawConnection(port: self.port, receiveTimeout: 1) {
        connection.send("GET /ready HTTP/1.1\r\nHost: t\r\n\r\n")
        if connection.readResponses(1).first?.hasPrefix("HTTP/1.1 200") ?? false { return }
      }
      usleep(50_000)
    }
    stop()
    throw ServerProcessError("featureserver did not become ready: \(log.suffix(2000))")
  }

  /// Everything the process wrote to standard error so far.
  public var log: String { (try? String(contentsOf: logFile, encoding: .utf8)) ?? "" }

  public var pid: Int32 { process.processIdentifier }

  /// SIGTERM and wait; returns the exit status.
  @discardableResult
  public func stop() -> Int32 {
    if process.isRunning {
      kill(process.processIdentifier, SIGTERM)
      process.waitUntilExit()
    }
    return process.terminationStatus
  }

  deinit {
    if process.isRunning {
      kill(process.processIdentifier, SIGKILL)
      process.waitUntilExit()
    }
    try? FileManager.default.removeItem(at: logFile)
  }

  /// One request on a new connection; the whole response text.
  public func request(_ text: String) -> String {
    guard let connection = try? RawConnection(port: port) else { return "" }
    connection.send(text)
    return connection.readResponses(1).first ?? ""
  }
}

public struct ServerProcessError: Error, CustomStringConvertible {
  public let description: String
  public init(_ description: String) { self.description = description }
}
