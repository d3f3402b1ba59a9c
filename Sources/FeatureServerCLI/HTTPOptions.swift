import ArgumentParser
import HTTPCore
import Reactor

/// The HTTP server's flags: listening, threads and every request limit. Defaults come from
/// `ServerConfiguration`, where each is written once.
struct HTTPOptions: ParsableArguments {
  private static let defaults = ServerConfiguration()

  @Option(help: "Numeric address to bind (0.0.0.0, 127.0.0.1, ::).")
  var bind = defaults.host

  @Option(help: "TCP port to listen on.")
  var port = defaults.port

  @Flag(
    help:
      "Let other processes listen on the same port at the same time (SO_REUSEPORT), e.g. for a zero-downtime restart. Without it a port in use is an error."
  )
  var sharePort = defaults.sharePort

  @Option(help: "Event loops (threads). Default: one per core.")
  var threads = EventLoopGroup.coreCount

  @Option(help: "listen(2) backlog.")
  var backlog = Int(defaults.backlog)

  @Option(help: "Longest request line in bytes; longer gets 414.")
  var maxRequestLineBytes = defaults.limits.maxRequestLineBytes

  @Option(help: "Largest header block in bytes; larger gets 431.")
  var maxHeaderBytes = defaults.limits.maxHeaderBytes

  @Option(help: "Most header fields in a request; more gets 431.")
  var maxHeaderCount = defaults.limits.maxHeaderCount

  @Option(help: "Largest request body in bytes; larger gets 413.")
  var maxBodyBytes = defaults.limits.maxBodyBytes

  @Option(help: "Longest chunk-size line (with extensions) of a chunked body; longer gets 400.")
  var maxChunkLineBytes = defaults.limits.maxChunkLineBytes

  @Option(help: "Request body bytes being received across all connections; a body beyond it gets 503 + Retry-After.")
  var maxTotalBodyBytes = defaults.maxTotalBodyBytes

  @Option(help: "Seconds a client may take to send a request head (slowloris bound); then 408.")
  var headerReadTimeout = defaults.headerReadTimeout

  @Option(help: "Seconds a client may take to send a whole request body; then 408.")
  var bodyReadTimeout = defaults.bodyReadTimeout

  @Option(
    help: "Seconds a connection with unsent response bytes may go without the client reading any; then it closes.")
  var sendTimeout = defaults.sendTimeout

  @Option(help: "Seconds an idle keep-alive connection stays open.")
  var idleTimeout = defaults.idleTimeout

  @Option(help: "Open connections; beyond it new ones get 503 and are closed (capped by the open-files limit).")
  var maxConnections = defaults.maxConnections

  @Option(help: "Unanswered pipelined requests per connection before reading pauses.")
  var maxPipelinedRequests = defaults.maxPipelinedRequests

  @Option(help: "Unsent response bytes per connection before reading pauses.")
  var maxBufferedOutputBytes = defaults.maxBufferedOutputBytes

  @Option(help: "Response bytes the kernel may hold unsent for one connection (TCP_NOTSENT_LOWAT).")
  var maxSocketUnsentBytes = defaults.maxSocketUnsentBytes

  @Option(help: "Unsent response bytes across all connections before connections with unsent bytes stop reading.")
  var maxTotalBufferedOutputBytes = defaults.maxTotalBufferedOutputBytes

  @Option(help: "Requests one connection may have handled in one loop pass before the others get their turn.")
  var maxRequestsPerPass = defaults.maxRequestsPerPass

  @Option(help: "Response bytes one connection may have produced in one loop pass before the others get their turn.")
  var maxOutputBytesPerPass = defaults.maxOutputBytesPerPass

  @Option(help: "Seconds one connection may keep its loop busy in one pass before the others get their turn.")
  var maxPassTime = defaults.maxPassTime

  @Option(help: "Seconds graceful shutdown waits for in-flight requests.")
  var drainTimeout = defaults.drainTimeout

  @Option(help: "Seconds a closing connection lingers so the client reads the last response.")
  var lingerTimeout = defaults.lingerTimeout

  func validate() throws {
    guard threads >= 1 && threads <= 256 else { throw ValidationError("--threads must be 1...256, got \(threads)") }
    do {
      try configuration.validate()
    } catch let error as ConfigurationError {
      throw ValidationError("--\(error)")
    }
  }

  var configuration: ServerConfiguration {
    var configuration = ServerConfiguration()
    configuration.host = bind
    configuration.port = port
    configuration.sharePort = sharePort
    configuration.backlog = Int32(clamping: backlog)
    configuration.limits.maxRequestLineBytes = maxRequestLineBytes
    configuration.limits.maxHeaderBytes = maxHeaderBytes
    configuration.limits.maxHeaderCount = maxHeaderCount
    configuration.limits.maxBodyBytes = maxBodyBytes
    configuration.limits.maxChunkLineBytes = maxChunkLineBytes
    configuration.maxTotalBodyBytes = maxTotalBodyBytes
    configuration.headerReadTimeout = headerReadTimeout
    configuration.bodyReadTimeout = bodyReadTimeout
    configuration.sendTimeout = sendTimeout
    configuration.idleTimeout = idleTimeout
    configuration.maxConnections = maxConnections
    configuration.maxPipelinedRequests = maxPipelinedRequests
    configuration.maxBufferedOutputBytes = maxBufferedOutputBytes
    configuration.maxSocketUnsentBytes = maxSocketUnsentBytes
    configuration.maxTotalBufferedOutputBytes = maxTotalBufferedOutputBytes
    configuration.maxRequestsPerPass = maxRequestsPerPass
    configuration.maxOutputBytesPerPass = maxOutputBytesPerPass
    configuration.maxPassTime = maxPassTime
    configuration.drainTimeout = drainTimeout
    configuration.lingerTimeout = lingerTimeout
    return configuration
  }
}
