#if canImport(Glibc)
  import Glibc
#endif

/// Host names to numeric addresses. getaddrinfo blocks, so it runs once, at start and off the
/// loops; the loops only ever connect to numeric addresses.
public enum HostResolution {
  /// `host` when it already is a numeric IPv4/IPv6 address, else the first address getaddrinfo
  /// gives for it (IPv4 first when `preferIPv4`).
  public static func numericAddress(of host: String, preferIPv4: Bool = false) throws -> String {
    var probe = in6_addr()
    if inet_pton(AF_INET, host, &probe) == 1 || inet_pton(AF_INET6, host, &probe) == 1 { return host }
    var hints = addrinfo()
    hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
    if preferIPv4 { hints.ai_family = AF_INET }
    var results: UnsafeMutablePointer<addrinfo>? = nil
    let status = getaddrinfo(host, nil, &hints, &results)
    guard status == 0, let first = results else {
      throw HostResolutionError(host: host, reason: String(cString: gai_strerror(status)))
    }
    defer { freeaddrinfo(results) }
    var buffer = [CChar](repeating: 0, count: Int(NI_MAXHOST))
    guard
      getnameinfo(
        first.pointee.ai_addr, first.pointee.ai_addrlen, &buffer, socklen_t(buffer.count), nil, 0, NI_NUMERICHOST)
        == 0
    else { throw HostResolutionError(host: host, reason: "no numeric address") }
    return cString(buffer)
  }
}

/// A host name that does not resolve.
public struct HostResolutionError: Error, CustomStringConvertible, Equatable {
  public let host: String
  public let reason: String
  public var description: String { "cannot resolve host '\(host)': \(reason)" }
}
