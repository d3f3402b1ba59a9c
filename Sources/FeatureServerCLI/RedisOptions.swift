import ArgumentParser
import FeatureServer
import RedisPool

/// Where Redis is and how the pool talks to it.
struct RedisOptions: ParsableArguments {
  @Option(
    help: ArgumentHelp(
      "redis://[user:password@]host:port/db or unix:///path.sock[?db=N]. Without it, serve starts its own redis-server and loads the bundled data."
    ))
  var redisURL: String?

  @Option(help: "Redis connections in total, spread over the loops.")
  var redisPoolSize = 50

  @Option(
    help:
      "Redis commands one loop iteration sends share a connection (one write, one read) while it has fewer than this many in flight; 1 sends each on its own idle connection."
  )
  var redisCommandsPerWrite = 16

  @Option(help: "Seconds to connect and authenticate a Redis connection.")
  var redisConnectTimeout = 1.0

  @Option(help: "Seconds to wait for a Redis reply; then the command fails and the connection resets.")
  var redisCommandTimeout = 0.5

  @Option(help: "First reconnect delay in seconds (doubles per failure, jittered).")
  var redisReconnectBaseDelay = 0.05

  @Option(help: "Longest reconnect delay in seconds.")
  var redisReconnectMaxDelay = 1.0

  func validate() throws {
    guard redisCommandsPerWrite >= 1 else {
      throw ValidationError("--redis-commands-per-write must be at least 1, got \(redisCommandsPerWrite)")
    }
  }

  func configuration(url: String) throws -> RedisConfiguration {
    var configuration = try RedisConfiguration(url: url)
    configuration.poolSize = redisPoolSize
    configuration.commandsPerWrite = redisCommandsPerWrite
    configuration.connectTimeout = redisConnectTimeout
    configuration.commandTimeout = redisCommandTimeout
    configuration.reconnectBaseDelay = redisReconnectBaseDelay
    configuration.reconnectMaxDelay = redisReconnectMaxDelay
    try configuration.validate()
    return configuration
  }
}

/// The feature routes' settings.
struct FeatureOptions: ParsableArguments {
  @Option(help: "Registry YAML file. Default: the bundled FinServe registry.")
  var registry: String?

  @Option(help: "Seconds a feature row is cached in process; 0 turns the cache off.")
  var cacheTTL = 5.0

  @Option(help: "Cached rows in total (split over the loops); least recently used go first.")
  var cacheMaxEntries = 100_000

  @Option(
    help:
      "Share of the cache TTL, before expiry, in which a hit also re-reads the row from Redis in the background (0 turns it off)."
  )
  var cacheRefreshAhead = 0.2

  @Option(help: "Seconds a missing instance is remembered as missing.")
  var negativeCacheTTL = 1.0

  @Option(help: "Seconds past expiry a cached row may be served, marked stale, while Redis fails.")
  var staleIfError = 60.0

  @Option(help: "Most items in one POST /features; more gets 413.")
  var maxBatchItems = 100

  func validate() throws {
    guard cacheTTL >= 0, negativeCacheTTL >= 0, staleIfError >= 0 else {
      throw ValidationError("--cache-ttl, --negative-cache-ttl and --stale-if-error must be 0 or more")
    }
    guard cacheRefreshAhead >= 0 && cacheRefreshAhead < 1 else {
      throw ValidationError("--cache-refresh-ahead must be at least 0 and below 1")
    }
    guard cacheMaxEntries >= 0 else { throw ValidationError("--cache-max-entries must be 0 or more") }
    guard maxBatchItems >= 1 else { throw ValidationError("--max-batch-items must be at least 1") }
  }

  var configuration: FeatureServiceConfiguration {
    var configuration = FeatureServiceConfiguration()
    configuration.cache.ttl = cacheTTL
    configuration.cache.maxEntries = cacheMaxEntries
    configuration.cache.negativeTTL = negativeCacheTTL
    configuration.cache.staleIfError = staleIfError
    configuration.cache.refreshAhead = cacheRefreshAhead
    configuration.maxBatchItems = maxBatchItems
    return configuration
  }

  func loadRegistry() throws -> Registry {
    do {
      return try RegistryLoader.load(path: registry ?? RegistryLoader.bundledPath)
    } catch let error as RegistryError {
      throw ValidationError("invalid registry: \(error)")
    }
  }
}
