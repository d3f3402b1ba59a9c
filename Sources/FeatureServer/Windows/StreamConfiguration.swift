import Reactor

/// Settings of streaming ingest and window features. Each has a flag (and an env var).
public struct StreamConfiguration: Sendable {
  /// The Redis Stream of transaction events; the consumer is off when nil.
  public var stream: String? = nil
  /// The consumer group every featureserver replica joins (each entry goes to one of them).
  public var group = "featureserver"
  /// This consumer's name in the group; stable across restarts so a restarted server finishes
  /// the entries it had read but not acknowledged. Default: the host name.
  public var consumer: String? = nil
  /// Redis connections of the consumer (its own, beside the serving pool); with write-through,
  /// one more stores the events.
  public var connections = 2
  /// The consumer thread's nice value (the serving loops keep 0): above 0, a busy machine
  /// serves requests first and ingest's lag absorbs the wait (it is measured:
  /// featureserver_stream_processing_seconds); 0 gives ingest an equal share.
  public var niceness = 10
  /// Entries read per XREADGROUP.
  public var batchSize = 512
  /// Seconds between reads while the stream is idle.
  public var pollInterval = 0.005
  /// Entries another consumer left pending this long (seconds) are claimed (XAUTOCLAIM).
  public var claimIdle = 30.0
  /// Events kept per entity (the oldest go first, counted): bounds a hot key's hash.
  public var maxEventsPerEntity = 20_000
  /// Seconds an entity's events stay in the cache when Redis's invalidations are not heard; 0
  /// reads them from Redis on every request (never cached, invalidations or not).
  public var windowCacheTTL = 0.05
  /// Hear which events hashes change (Redis 6+ `CLIENT TRACKING ... BCAST` on one connection
  /// of its own) and keep events cached until they change, for the cache's TTL. A single Redis
  /// only: on a cluster, events always use `windowCacheTTL`.
  public var windowInvalidation = true
  /// With invalidations heard and the stream consumed here: the consumer puts the events it
  /// stores into the cache itself, so an entity whose events keep arriving stays cached
  /// (`WindowCacheWriteThrough`); off, each write drops the entity's cached events.
  public var windowWriteThrough = true
  /// The most events one POST /events may carry.
  public var maxEventsPerRequest = 10_000

  public init() {}

  public func validate() throws {
    if let stream {
      guard !stream.isEmpty, stream.utf8.count <= 256 else { throw ConfigurationError("stream must be 1-256 bytes") }
    }
    guard !group.isEmpty, group.utf8.count <= 256 else { throw ConfigurationError("stream-group must be 1-256 bytes") }
    try ConfigurationError.check("stream-connections", connections, in: 1...64)
    try ConfigurationError.check("stream-batch-size", batchSize, in: 1...100_000)
    try ConfigurationError.check("stream-niceness", niceness, in: 0...19)
    try ConfigurationError.checkSeconds("stream-poll-interval", pollInterval, positive: true)
    try ConfigurationError.checkSeconds("stream-claim-idle", claimIdle, positive: true)
    try ConfigurationError.check("window-max-events-per-entity", maxEventsPerEntity, in: 1...10_000_000)
    try ConfigurationError.checkSeconds("window-cache-ttl", windowCacheTTL, positive: false)
    try ConfigurationError.check("max-events-per-request", maxEventsPerRequest, in: 1...1_000_000)
  }
}
