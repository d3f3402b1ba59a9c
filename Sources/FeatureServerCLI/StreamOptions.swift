import ArgumentParser
import FeatureServer

/// Streaming ingest and window features. Defaults come from `StreamConfiguration`.
struct StreamOptions: ParsableArguments {
  private static let defaults = StreamConfiguration()

  @Option(
    help:
      "Redis Stream of transaction events to consume into the registry's window features (and that POST /events appends to). Off when not given."
  )
  var stream: String?

  @Option(help: "Consumer group the server replicas share on --stream.")
  var streamGroup = defaults.group

  @Option(help: "This server's consumer name in the group; keep it stable across restarts. Default: the host name.")
  var streamConsumer: String?

  @Option(
    help:
      "Redis connections of the stream consumer (its own, beside --redis-pool-size; with write-through one more stores the events)."
  )
  var streamConnections = defaults.connections

  @Option(
    help:
      "Nice value of the stream consumer's thread (0-19; the serving loops keep 0): above 0, a busy machine serves requests first and ingest lags instead."
  )
  var streamNiceness = defaults.niceness

  @Option(help: "Stream entries read per XREADGROUP.")
  var streamBatchSize = defaults.batchSize

  @Option(help: "Seconds between reads of an idle stream.")
  var streamPollInterval = defaults.pollInterval

  @Option(help: "Seconds after which entries another consumer read but did not acknowledge are taken over.")
  var streamClaimIdle = defaults.claimIdle

  @Option(help: "Events kept per entity for its windows; beyond it the oldest go first (counted).")
  var windowMaxEventsPerEntity = defaults.maxEventsPerEntity

  @Option(
    help:
      "Seconds an entity's events stay cached for its window features while Redis's invalidations are not heard (0: read on every request, never cached)."
  )
  var windowCacheTTL = defaults.windowCacheTTL

  @Flag(
    inversion: .prefixedNo,
    help:
      "Keep an entity's events cached until Redis says they changed (CLIENT TRACKING on one extra connection; single Redis only)."
  )
  var windowCacheInvalidation = defaults.windowInvalidation

  @Flag(
    inversion: .prefixedNo,
    help:
      "Put the events this server's consumer stores into the cache at once (with cache invalidation), instead of dropping the entity's cached events on each write."
  )
  var windowWriteThrough = defaults.windowWriteThrough

  @Option(help: "Most events in one POST /events; more gets 413.")
  var maxEventsPerRequest = defaults.maxEventsPerRequest

  func validate() throws {
    do {
      try configuration.validate()
    } catch {
      throw ValidationError("--\(error)")
    }
  }

  var configuration: StreamConfiguration {
    var configuration = StreamConfiguration()
    configuration.stream = stream
    configuration.group = streamGroup
    configuration.consumer = streamConsumer
    configuration.connections = streamConnections
    configuration.batchSize = streamBatchSize
    configuration.pollInterval = streamPollInterval
    configuration.claimIdle = streamClaimIdle
    configuration.niceness = streamNiceness
    configuration.maxEventsPerEntity = windowMaxEventsPerEntity
    configuration.windowCacheTTL = windowCacheTTL
    configuration.windowInvalidation = windowCacheInvalidation
    configuration.windowWriteThrough = windowWriteThrough
    configuration.maxEventsPerRequest = maxEventsPerRequest
    return configuration
  }
}
