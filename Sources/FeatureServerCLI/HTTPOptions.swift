import ArgumentParser
import HTTPCore
import Reactor

/// The HTTP server's flags: listening, threads and every request limit.
struct HTTPOptions: ParsableArguments {
  @Option(help: "Numeric address to bind (0.0.0.0, 127.0.0.1, ::).")
  var bind = "0.0.0.0"

  @Option(help: "TCP port to listen on.")
  var port = 8080

  @Option(help: "Event loops (threads). Default: one per core.")
  var threads = EventLoopGroup.coreCount

  @Option(help: "listen(2) backlog.")
  var backlog: Int32 = 1024

  @Option(help: "Longest request line in bytes; longer gets 414.")
  var maxRequestLineBytes = 8 * 1024

  @Option(help: "Largest header block in bytes; larger gets 431.")
  var maxHeaderBytes = 16 * 1024

  @Option(help: "Most header fields in a request; more gets 431.")
  var maxHeaderCount = 100

  @Option(help: "Largest request body in bytes; larger gets 413.")
  var maxBodyBytes = 1024 * 1024

  @Option(help: "Seconds a client may take to send a request head (slowloris bound); then 408.")
  var headerReadTimeout = 10.0

  @Option(help: "Seconds an idle keep-alive connection stays open.")
  var idleTimeout = 60.0

  @Option(help: "Open connections; beyond it new ones get 503 and are closed.")
  var maxConnections = 10_000

  @Option(help: "Unanswered pipelined requests per connection before reading pauses.")
  var maxPipelinedRequests = 128

  @Option(help: "Unsent response bytes per connection before reading pauses.")
  var maxBufferedOutputBytes = 1024 * 1024

  @Option(help: "Seconds graceful shutdown waits for in-flight requests.")
  var drainTimeout = 10.0

  func validate() throws {
    guard (0...65535).contains(port) else { throw ValidationError("--port must be 0...65535, got \(port)") }
    guard threads >= 1 && threads <= 256 else { throw ValidationError("--threads must be 1...256, got \(threads)") }
    for (name, value) in [
      ("--max-request-line-bytes", maxRequestLineBytes), ("--max-header-bytes", maxHeaderBytes),
      ("--max-header-count", maxHeaderCount), ("--max-body-bytes", maxBodyBytes),
      ("--max-connections", maxConnections), ("--max-pipelined-requests", maxPipelinedRequests),
      ("--max-buffered-output-bytes", maxBufferedOutputBytes),
    ] where value < 1 {
      throw ValidationError("\(name) must be at least 1, got \(value)")
    }
    for (name, value) in [
      ("--header-read-timeout", headerReadTimeout), ("--idle-timeout", idleTimeout), ("--drain-timeout", drainTimeout),
    ] where !(value > 0 && value.isFinite) {
      throw ValidationError("\(name) must be a positive number of seconds, got \(value)")
    }
  }

  var configuration: ServerConfiguration {
    var configuration = ServerConfiguration()
    configuration.host = bind
    configuration.port = port
    configuration.backlog = backlog
    configuration.limits.maxRequestLineBytes = maxRequestLineBytes
    configuration.limits.maxHeaderBytes = maxHeaderBytes
    configuration.limits.maxHeaderCount = maxHeaderCount
    configuration.limits.maxBodyBytes = maxBodyBytes
    configuration.headerReadTimeout = headerReadTimeout
    configuration.idleTimeout = idleTimeout
    configuration.maxConnections = maxConnections
    configuration.maxPipelinedRequests = maxPipelinedRequests
    configuration.maxBufferedOutputBytes = maxBufferedOutputBytes
    configuration.drainTimeout = drainTimeout
    return configuration
  }
}
