import Reactor

/// The limits a server puts on each request. Every one has a flag in the CLI; the defaults are
/// conservative, in the manner of nginx.
public struct HTTPLimits: Sendable, Equatable {
  /// Longest request line in bytes; longer → 414.
  public var maxRequestLineBytes = 8 * 1024
  /// Largest header block in bytes (after the request line); larger → 431.
  public var maxHeaderBytes = 16 * 1024
  /// Most header fields in one request; more → 431.
  public var maxHeaderCount = 100
  /// Largest request body in bytes, however it is framed; larger → 413.
  public var maxBodyBytes = 1024 * 1024
  /// Longest chunk-size line (size plus extensions) in a chunked body; longer → 400.
  public var maxChunkLineBytes = 4 * 1024

  public init() {}

  /// Refuses limits that cannot work, naming the flag and its range.
  public func validate() throws {
    try ConfigurationError.check("max-request-line-bytes", maxRequestLineBytes, in: 64...(1 << 20))
    try ConfigurationError.check("max-header-bytes", maxHeaderBytes, in: 64...(1 << 24))
    try ConfigurationError.check("max-header-count", maxHeaderCount, in: 1...10_000)
    try ConfigurationError.check("max-body-bytes", maxBodyBytes, in: 1...(1 << 40))
    try ConfigurationError.check("max-chunk-line-bytes", maxChunkLineBytes, in: 16...(1 << 20))
  }
}

/// Why a request could not be parsed: the status to answer with (the connection then closes)
/// and a short reason for the body and the log.
public struct HTTPParseError: Error, Equatable, Sendable, CustomStringConvertible {
  public let status: HTTPStatus
  public let reason: String

  public init(_ status: HTTPStatus, _ reason: String) {
    self.status = status
    self.reason = reason
  }

  public var description: String { "\(status.code): \(reason)" }
}
