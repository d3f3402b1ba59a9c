import Foundation
import HTTPCore

/// A redis-server the feature server starts for itself when no `--redis-url` is given: on a
/// unix socket in a private temporary directory, persisting nothing, stopped at exit.
final class OwnRedisServer {
  let process: Process
  let directory: URL
  var url: String { "unix://\(directory.appendingPathComponent("redis.sock").path)" }

  init(executable: String) throws {
    guard let path = OwnRedisServer.find(executable) else {
      throw OwnRedisServerError(
        "no redis-server found (install it with scripts/setup.sh or apt-get install redis-server, or pass --redis-url)")
    }
    directory = FileManager.default.temporaryDirectory.appendingPathComponent("featureserver-redis-\(getpid())")
    try? FileManager.default.removeItem(at: directory)
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = [
      "--port", "0", "--unixsocket", directory.appendingPathComponent("redis.sock").path, "--unixsocketperm", "700",
      "--save", "", "--appendonly", "no", "--dir", directory.path, "--daemonize", "no", "--loglevel", "warning",
    ]
    process.standardOutput = FileHandle.nullDevice
    try process.run()
    let socket = directory.appendingPathComponent("redis.sock").path
    for _ in 0..<200 where !FileManager.default.fileExists(atPath: socket) {
      guard process.isRunning else { throw OwnRedisServerError("redis-server exited at start") }
      usleep(25_000)
    }
    guard FileManager.default.fileExists(atPath: socket) else {
      stop()
      throw OwnRedisServerError("redis-server did not open its socket within 5 s")
    }
  }

  func stop() {
    if process.isRunning {
      process.terminate()
      process.waitUntilExit()
    }
    try? FileManager.default.removeItem(at: directory)
  }

  private static func find(_ executable: String) -> String? {
    if executable.contains("/") { return FileManager.default.isExecutableFile(atPath: executable) ? executable : nil }
    for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
      let path = "\(directory)/\(executable)"
      if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    return nil
  }
}

struct OwnRedisServerError: Error, CustomStringConvertible {
  let description: String
  init(_ description: String) { self.description = description }
}
