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

  init(configuration: StreamConfiguration, stream: String, registry: Registry, redis: RedisConfiguration) throws {
    group = try EventLoopGroup(threads: 1)
    var redis = redis
    redis.poolSize = configuration.connections
    pool = try RedisPool(configuration: redis, group: group)
    let loop = group.loops[0]
    consumer = StreamConsumer(
      configuration: configuration, stream: stream, registry: registry, loop: loop, redis: pool.on(loop))
  }

  func start() throws {
    try group.start()
    // Below the serving loops: on a busy machine a request is not kept waiting by ingest, whose
    // lag absorbs the wait instead (it is measured: featureserver_stream_processing_seconds).
    _ = group.loops[0].execute {
      setCurrentThreadNiceness(StreamIngest.niceness)
    }
    pool.start()
    consumer.start()
  }

  /// The ingest thread's nice value (the serving loops keep 0).
  static let niceness: Int32 = 10

  func stop() {
    consumer.stop()
    let group = self.group
    pool.close { group.stop() }
  }
}
