import Reactor
import RedisPool

/// The event stream's consumer on a loop and Redis connections of its own
/// (`--stream-connections`, 2 by default, beside the serving pool): ingest never shares a
/// connection with requests, so a request's read is not queued behind a batch of event writes,
/// and parsing events never delays the serving loops.
final class StreamIngest: @unchecked Sendable {  // its parts are confined to their loop
  let consumer: StreamConsumer
  private let group: EventLoopGroup
  private let pool: RedisPool
  /// The one connection events are stored through when they are written through to the cache
  /// (see `WindowCacheWriteThrough`).
  private let writerPool: RedisPool?
  private let niceness: Int32

  /// `writeThrough`: the cache and the listener to keep current with this consumer's writes
  /// (the listener registered `.byWriter`); nil: the writes reach the cache as invalidations.
  init(
    configuration: StreamConfiguration, stream: String, registry: Registry, redis: RedisConfiguration,
    writeThrough: (cache: SharedFeatureCache, listener: RedisInvalidationListener)? = nil
  ) throws {
    group = try EventLoopGroup(threads: 1)
    niceness = Int32(clamping: configuration.niceness)
    var redis = redis
    redis.poolSize = configuration.connections
    pool = try RedisPool(configuration: redis, group: group)
    let loop = group.loops[0]
    var writer: WindowCacheWriteThrough? = nil
    if let writeThrough {
      redis.poolSize = 1
      let writerPool = try RedisPool(configuration: redis, group: group)
      self.writerPool = writerPool
      writer = WindowCacheWriteThrough(
        cache: writeThrough.cache, listener: writeThrough.listener, writer: writerPool.on(loop),
        prefix: registry.windowEventsKeyPrefix)
    } else {
      writerPool = nil
    }
    consumer = StreamConsumer(
      configuration: configuration, stream: stream, registry: registry, loop: loop, redis: pool.on(loop),
      writeThrough: writer)
  }

  func start() throws {
    try group.start()
    // Below the serving loops (see `StreamConfiguration.niceness`).
    _ = group.loops[0].execute { [niceness] in
      setCurrentThreadNiceness(niceness)
    }
    pool.start()
    writerPool?.start()
    consumer.start()
  }

  func stop() {
    consumer.stop()
    let group = self.group
    let writerPool = self.writerPool
    pool.close {
      guard let writerPool else { return group.stop() }
      writerPool.close { group.stop() }
    }
  }
}
