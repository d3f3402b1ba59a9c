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

/// The text of a NUL-terminated C buffer.
public func cString(_ buffer: [CChar]) -> String {
  let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
  return String(decoding: bytes, as: UTF8.self)
}

/// Thin wrappers over the socket system calls HTTPCore uses.
public enum Socket {
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
