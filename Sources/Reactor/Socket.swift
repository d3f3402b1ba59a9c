import CLinux

#if canImport(Glibc)
  import Glibc
#endif

/// An IPv4 or IPv6 socket address resolved from a numeric host and a port.
public struct SocketAddress: Sendable, CustomStringConvertible {
  var storage: sockaddr_storage
  var length: socklen_t

  /// Parses a numeric IPv4 or IPv6 host (no DNS: resolution must not block a loop).
  public init(host: String, port: Int) throws {
    storage = sockaddr_storage()
    var v4 = sockaddr_in()
    if inet_pton(AF_INET, host, &v4.sin_addr) == 1 {
      v4.sin_family = sa_family_t(AF_INET)
      v4.sin_port = in_port_t(UInt16(truncatingIfNeeded: port).bigEndian)
      length = socklen_t(MemoryLayout<sockaddr_in>.size)
      withUnsafeMutableBytes(of: &storage) { $0.storeBytes(of: v4, as: sockaddr_in.self) }
      return
    }
    var v6 = sockaddr_in6()
    if inet_pton(AF_INET6, host, &v6.sin6_addr) == 1 {
      v6.sin6_family = sa_family_t(AF_INET6)
      v6.sin6_port = in_port_t(UInt16(truncatingIfNeeded: port).bigEndian)
      length = socklen_t(MemoryLayout<sockaddr_in6>.size)
      withUnsafeMutableBytes(of: &storage) { $0.storeBytes(of: v6, as: sockaddr_in6.self) }
      return
    }
    throw SystemError("inet_pton(\(host))", code: EINVAL)
  }

  var family: Int32 { Int32(storage.ss_family) }

  public var description: String {
    var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
    return withUnsafeBytes(of: storage) { raw -> String in
      if family == AF_INET {
        var v4 = raw.load(as: sockaddr_in.self)
        inet_ntop(AF_INET, &v4.sin_addr, &buffer, socklen_t(buffer.count))
        return "\(cString(buffer)):\(UInt16(bigEndian: v4.sin_port))"
      }
      var v6 = raw.load(as: sockaddr_in6.self)
      inet_ntop(AF_INET6, &v6.sin6_addr, &buffer, socklen_t(buffer.count))
      return "[\(cString(buffer))]:\(UInt16(bigEndian: v6.sin6_port))"
    }
  }
}

/// The whole of a small file (a /proc table), or nil when it cannot be read.
func readSmallFile(_ path: String) -> String? {
  let fd = open(path, O_RDONLY | O_CLOEXEC)
  guard fd >= 0 else { return nil }
  defer { close(fd) }
  var bytes: [UInt8] = []
  var chunk = [UInt8](repeating: 0, count: 65536)
  while bytes.count < 64 * 1024 * 1024 {
    let count = read(fd, &chunk, chunk.count)
    if count < 0 && errno == EINTR { continue }
    if count <= 0 { break }
    bytes.append(contentsOf: chunk[0..<count])
  }
  return String(decoding: bytes, as: UTF8.self)
}

/// The text of a NUL-terminated C buffer.
public func cString(_ buffer: [CChar]) -> String {
  let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
  return String(decoding: bytes, as: UTF8.self)
}

/// Thin wrappers over the socket system calls HTTPCore uses.
public enum Socket {
  /// TCP_NOTSENT_LOWAT (Linux 3.12+), which Glibc's Swift module does not export.
  public static let tcpNotSentLowWaterMark: Int32 = 25

  /// Creates a non-blocking listening TCP socket.
  public static func listen(
    on address: SocketAddress, backlog: Int32, reusePort: Bool
  ) throws -> Int32 {
    let fd = socket(address.family, CL_SOCK_STREAM | CL_SOCK_NONBLOCK | CL_SOCK_CLOEXEC, 0)
    guard fd >= 0 else { throw SystemError("socket") }
    do {
      try setOption(fd, SOL_SOCKET, SO_REUSEADDR, 1)
      if reusePort { try setOption(fd, SOL_SOCKET, SO_REUSEPORT, 1) }
      var storage = address.storage
      let rc = withUnsafePointer(to: &storage) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, address.length) }
      }
      guard rc == 0 else { throw SystemError("bind(\(address))") }
      guard Glibc.listen(fd, backlog) == 0 else { throw SystemError("listen") }
      return fd
    } catch {
      close(fd)
      throw error
    }
  }

  /// The port a socket is bound to (to learn the port picked for port 0).
  public static func localPort(_ fd: Int32) -> Int {
    var storage = sockaddr_storage()
    var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
    _ = withUnsafeMutablePointer(to: &storage) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return withUnsafeBytes(of: storage) { raw in
      if Int32(storage.ss_family) == AF_INET {
        return Int(UInt16(bigEndian: raw.load(as: sockaddr_in.self).sin_port))
      }
      return Int(UInt16(bigEndian: raw.load(as: sockaddr_in6.self).sin6_port))
    }
  }

  /// Starts a non-blocking connect. Returns the fd; completion is signalled by writability.
  public static func startConnect(to address: SocketAddress) throws -> Int32 {
    let fd = socket(address.family, CL_SOCK_STREAM | CL_SOCK_NONBLOCK | CL_SOCK_CLOEXEC, 0)
    guard fd >= 0 else { throw SystemError("socket") }
    var storage = address.storage
    let rc = withUnsafePointer(to: &storage) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, address.length) }
    }
    if rc != 0 && errno != EINPROGRESS {
      let error = SystemError("connect(\(address))")
      close(fd)
      throw error
    }
    try? setOption(fd, Int32(IPPROTO_TCP), TCP_NODELAY, 1)
    return fd
  }

  /// A TCP socket listening on `port` (any address, IPv4 or IPv6) that is none of `ours`: its
  /// inode, or nil. Read from /proc/net/tcp and tcp6, so it sees every process in this network
  /// namespace; nil too when those files cannot be read.
  public static func foreignListener(port: Int, ours: [Int32]) -> UInt64? {
    var ourInodes = Set<UInt64>()
    for fd in ours {
      var status = stat()
      if fstat(fd, &status) == 0 { ourInodes.insert(UInt64(status.st_ino)) }
    }
    let portHex = String(port, radix: 16, uppercase: true)
    let wanted = String(repeating: "0", count: max(0, 4 - portHex.count)) + portHex
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
      guard let text = readSmallFile(table) else { continue }
      for line in text.split(separator: "\n").dropFirst() {
        let fields = line.split(separator: " ", omittingEmptySubsequences: true)
        // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
        guard fields.count > 9, fields[3] == "0A", fields[1].hasSuffix(":" + wanted),
          let inode = UInt64(fields[9]), inode != 0, !ourInodes.contains(inode)
        else { continue }
        return inode
      }
    }
    return nil
  }

  /// The address of a connected socket's peer, as text ("127.0.0.1:5557"), or "?".
  public static func peerName(_ fd: Int32) -> String {
    var address = try! SocketAddress(host: "0.0.0.0", port: 0)
    var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
    let rc = withUnsafeMutablePointer(to: &address.storage) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &length) }
    }
    guard rc == 0 else { return "?" }
    address.length = length
    return address.description
  }

  /// The pending error of a socket (after a non-blocking connect), or 0.
  public static func pendingError(_ fd: Int32) -> Int32 {
    var value: Int32 = 0
    var length = socklen_t(MemoryLayout<Int32>.size)
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &value, &length)
    return value
  }

  public static func setOption(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: Int32) throws {
    var value = value
    guard setsockopt(fd, level, name, &value, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
      throw SystemError("setsockopt(\(name))")
    }
  }
}
