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

  @Flag(
    inversion: .prefixedNo,
    help: "Serve HTTP/2 (h2c) on the same port: prior knowledge and Upgrade: h2c.")
  var http2 = defaults.http2.enabled

  @Option(
    help: "HTTP/2: concurrent streams per connection we advertise, and requests one connection may have in flight.")
  var http2MaxConcurrentStreams = defaults.http2.maxConcurrentStreams

  @Option(help: "HTTP/2: the initial flow-control window we advertise (request body bytes a client may send ahead).")
  var http2InitialWindowBytes = defaults.http2.initialWindowBytes

  @Option(help: "HTTP/2: stream resets a client may send in a burst before GOAWAY (rapid reset).")
  var http2StreamResetBurst = defaults.http2.streamResetBurst

  @Option(help: "HTTP/2: stream resets per second a client may keep sending after the burst.")
  var http2StreamResetsPerSecond = defaults.http2.streamResetsPerSecond

  @Option(help: "HTTP/2: CONTINUATION frames after one HEADERS frame before the connection ends.")
  var http2MaxContinuations = defaults.http2.maxContinuations

  @Option(help: "HTTP/2: SETTINGS/PING acknowledgements queued for a client that does not read them.")
  var http2MaxOutboundAcks = defaults.http2.maxOutboundAcks

  @Option(help: "HTTP/2: refused streams and limits hit one connection may cause before GOAWAY.")
  var http2MaxMisbehaviour = defaults.http2.maxMisbehaviour

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
    configuration.http2.enabled = http2
    configuration.http2.maxConcurrentStreams = http2MaxConcurrentStreams
    configuration.http2.initialWindowBytes = http2InitialWindowBytes
    configuration.http2.streamResetBurst = http2StreamResetBurst
    configuration.http2.streamResetsPerSecond = http2StreamResetsPerSecond
    configuration.http2.maxContinuations = http2MaxContinuations
    configuration.http2.maxOutboundAcks = http2MaxOutboundAcks
    configuration.http2.maxMisbehaviour = http2MaxMisbehaviour
    configuration.drainTimeout = drainTimeout
    configuration.lingerTimeout = lingerTimeout
    return configuration
  }
}
