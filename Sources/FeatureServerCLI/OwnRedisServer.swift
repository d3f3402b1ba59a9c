import Foundation
import Reactor

#if canImport(Glibc)
  import Glibc
#endif

/// A redis-server the feature server starts for itself when no `--redis-url` is given: on a
/// unix socket in a private temporary directory, persisting nothing, stopped at exit.
///
/// Other local users must not be able to reach or replace it: the directory is made by mkdtemp
/// (a fresh, unpredictable name, mode 0700, never an existing one) and checked to be ours; the
/// server demands a random password, given to it in a config file inside that directory (never
/// on the command line, which `ps` shows to everyone); and before it is used, AUTH + PING on
/// its socket prove the process answering is the one just started.
///
/// It is spawned with posix_spawn and an empty signal mask: `serve` blocks SIGTERM/SIGINT in
/// every thread (they arrive through a signalfd), and a child started with Foundation's Process
/// would inherit that mask and ignore the SIGTERM that stops it.
final class OwnRedisServer {
  private var pid: pid_t = 0
  let directory: String
  let password: String
  var socketPath: String { directory + "/redis.sock" }
  /// The URL to reach it (the password is set separately: it is never part of a URL we print).
  var url: String { "unix://\(socketPath)" }

  init(executable: String) throws {
    guard let path = OwnRedisServer.find(executable) else {
      throw OwnRedisServerError(
        "no redis-server found (install it with scripts/setup.sh or apt-get install redis-server, or pass --redis-url)")
    }
    directory = try OwnRedisServer.makePrivateDirectory()
    password = try OwnRedisServer.randomToken()
    do {
      let configuration = [
        "port 0", "unixsocket \(socketPath)", "unixsocketperm 700", "save \"\"", "appendonly no",
        "dir \(directory)", "daemonize no", "loglevel warning", "logfile \(directory)/redis.log",
        "requirepass \(password)",
      ].joined(separator: "\n")
      try OwnRedisServer.writePrivateFile(directory + "/redis.conf", configuration + "\n")
      pid = try OwnRedisServer.spawn(path, [path, directory + "/redis.conf"])
      try waitUntilAnswering()
    } catch {
      stop()
      throw error
    }
  }

  /// Waits (up to 5 s) until the server answers AUTH + PING on its socket.
  private func waitUntilAnswering() throws {
    var lastProblem = "no socket yet"
    for _ in 0..<200 {
      var status: Int32 = 0
      if waitpid(pid, &status, WNOHANG) == pid {
        pid = 0
        let log = (try? String(contentsOfFile: directory + "/redis.log", encoding: .utf8)) ?? ""
        throw OwnRedisServerError("redis-server exited at start: \(log.suffix(400))")
      }
      switch OwnRedisServer.check(socket: socketPath, password: password) {
      case .success: return
      case .failure(let problem): lastProblem = problem.description
      }
      usleep(25_000)
    }
    throw OwnRedisServerError("redis-server did not answer on its socket within 5 s (\(lastProblem))")
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
    try? FileManager.default.removeItem(atPath: directory)
  }

  // MARK: Private parts

  /// A new directory only this user can enter, under the temporary directory.
  static func makePrivateDirectory() throws -> String {
    let base = (ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp")
    var template =
      Array((base.hasSuffix("/") ? base : base + "/").utf8CString.dropLast())
      + Array("featureserver-redis-XXXXXX".utf8CString)
    guard let made = mkdtemp(&template) else {
      throw OwnRedisServerError("cannot create a private directory under \(base): \(String(cString: strerror(errno)))")
    }
    let path = String(cString: made)
    var status = stat()
    // mkdtemp made it 0700 and new; check anyway that nothing swapped it for a link or a
    // directory of someone else's between the two calls.
    guard lstat(path, &status) == 0, status.st_mode & S_IFMT == S_IFDIR, status.st_uid == getuid(),
      status.st_mode & 0o077 == 0
    else {
      throw OwnRedisServerError("\(path) is not a private directory of this user; refusing to use it")
    }
    return path
  }

  /// 32 random bytes as hex, from the system's CSPRNG (`SystemRandomNumberGenerator` reads
  /// getrandom(2) on Linux).
  static func randomToken() throws -> String {
    var generator = SystemRandomNumberGenerator()
    return (0..<4).map { _ in
      let word = generator.next()
      let hex = String(word, radix: 16)
      return String(repeating: "0", count: 16 - hex.count) + hex
    }.joined()
  }

  /// Writes a file only this user can read, refusing to follow a link or reuse a file.
  static func writePrivateFile(_ path: String, _ text: String) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
    guard fd >= 0 else { throw OwnRedisServerError("cannot create \(path): \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    let bytes = Array(text.utf8)
    var written = 0
    while written < bytes.count {
      let count = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, bytes.count - written) }
      guard count > 0 else { throw OwnRedisServerError("cannot write \(path)") }
      written += count
    }
  }

  /// Whether the socket is a socket of this user and the server on it knows the password.
  static func check(socket path: String, password: String) -> Result<Void, OwnRedisServerError> {
    var status = stat()
    guard lstat(path, &status) == 0 else { return .failure(OwnRedisServerError("no socket yet")) }
    guard status.st_mode & S_IFMT == S_IFSOCK, status.st_uid == getuid() else {
      return .failure(OwnRedisServerError("\(path) is not a socket of this user"))
    }
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { return .failure(OwnRedisServerError("socket: \(String(cString: strerror(errno)))")) }
    defer { close(fd) }
    var timeout = timeval(tv_sec: 1, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let pathBytes = Array(path.utf8)
    guard pathBytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
      return .failure(OwnRedisServerError("socket path too long: \(path)"))
    }
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
      for (index, byte) in pathBytes.enumerated() { raw[index] = byte }
    }
    let connected = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
      }
    }
    guard connected == 0 else { return .failure(OwnRedisServerError("connect: \(String(cString: strerror(errno)))")) }
    let request = Array("*2\r\n$4\r\nAUTH\r\n$\(password.utf8.count)\r\n\(password)\r\n*1\r\n$4\r\nPING\r\n".utf8)
    guard request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == request.count else {
      return .failure(OwnRedisServerError("cannot send AUTH"))
    }
    let expected = Array("+OK\r\n+PONG\r\n".utf8)
    var received: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 256)
    while received.count < expected.count {
      let count = read(fd, &buffer, buffer.count)
      guard count > 0 else { break }
      received.append(contentsOf: buffer[0..<count])
    }
    guard received == expected else {
      return .failure(
        OwnRedisServerError(
          "the process on \(path) did not accept our password (\(String(decoding: received.prefix(60), as: UTF8.self)))"
        ))
    }
    return .success(())
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
