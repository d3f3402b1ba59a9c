import Foundation
import HTTPCore

#if canImport(Glibc)
  import Glibc
#endif

/// A redis-server the feature server starts for itself when no `--redis-url` is given: on a
/// unix socket in a private temporary directory, persisting nothing, stopped at exit.
///
/// It is spawned with posix_spawn and an empty signal mask: `serve` blocks SIGTERM/SIGINT in
/// every thread (they arrive through a signalfd), and a child started with Foundation's Process
/// would inherit that mask and ignore the SIGTERM that stops it.
final class OwnRedisServer {
  private var pid: pid_t = 0
  let directory: URL
  var socketPath: String { directory.appendingPathComponent("redis.sock").path }
  var url: String { "unix://\(socketPath)" }

  init(executable: String) throws {
    guard let path = OwnRedisServer.find(executable) else {
      throw OwnRedisServerError(
        "no redis-server found (install it with scripts/setup.sh or apt-get install redis-server, or pass --redis-url)")
    }
    directory = FileManager.default.temporaryDirectory.appendingPathComponent("featureserver-redis-\(getpid())")
    try? FileManager.default.removeItem(at: directory)
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let arguments = [
      path, "--port", "0", "--unixsocket", socketPath, "--unixsocketperm", "700", "--save", "", "--appendonly", "no",
      "--dir", directory.path, "--daemonize", "no", "--loglevel", "warning", "--logfile",
      directory.appendingPathComponent("redis.log").path,
    ]
    pid = try OwnRedisServer.spawn(path, arguments)
    for _ in 0..<200 where !FileManager.default.fileExists(atPath: socketPath) {
      var status: Int32 = 0
      if waitpid(pid, &status, WNOHANG) == pid {
        pid = 0
        let log = (try? String(contentsOf: directory.appendingPathComponent("redis.log"), encoding: .utf8)) ?? ""
        throw OwnRedisServerError("redis-server exited at start: \(log.suffix(400))")
      }
      usleep(25_000)
    }
    guard FileManager.default.fileExists(atPath: socketPath) else {
      stop()
      throw OwnRedisServerError("redis-server did not open its socket within 5 s")
    }
  }

  /// SIGTERM, then SIGKILL if it has not exited within 3 s; removes the directory.
  func stop() {
    if pid > 0 {
      kill(pid, SIGTERM)
      var status: Int32 = 0
      var exited = false
      for _ in 0..<300 {
        if waitpid(pid, &status, WNOHANG) == pid {
          exited = true
          break
        }
        usleep(10_000)
      }
      if !exited {
        kill(pid, SIGKILL)
        waitpid(pid, &status, 0)
      }
      pid = 0
    }
    try? FileManager.default.removeItem(at: directory)
  }

  private static func spawn(_ path: String, _ arguments: [String]) throws -> pid_t {
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var empty = sigset_t()
    sigemptyset(&empty)
    posix_spawnattr_setsigmask(&attributes, &empty)
    var defaults = sigset_t()
    sigemptyset(&defaults)
    for signal in [SIGTERM, SIGINT, SIGHUP, SIGPIPE] { sigaddset(&defaults, signal) }
    posix_spawnattr_setsigdefault(&attributes, &defaults)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
    defer { for pointer in argv { free(pointer) } }
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, path, &actions, &attributes, &argv, environ)
    guard rc == 0 else { throw OwnRedisServerError("cannot start \(path): \(String(cString: strerror(rc)))") }
    return pid
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
