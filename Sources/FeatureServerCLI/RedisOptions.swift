import ArgumentParser
import FeatureServer
import Reactor
import RedisPool

/// Where Redis is and how the pool talks to it. Defaults come from `RedisConfiguration`.
struct RedisOptions: ParsableArguments {
  private static let defaults = RedisConfiguration(endpoint: .unix(path: "/"))

  @Option(
    help: ArgumentHelp(
      "redis://[user:password@]host:port/db, unix:///path.sock[?db=N], or a Redis Cluster's seed nodes redis+cluster://[user:password@]host:port,host:port. Without it, serve starts its own redis-server and loads the bundled data."
    ))
  var redisURL: String?

  @Option(help: "Redis connections in total, spread over the loops.")
  var redisPoolSize = defaults.poolSize

  @Option(
    help:
      "Redis commands one loop iteration sends share a connection (one write, one read) while it has fewer than this many in flight; 1 sends each on its own idle connection."
  )
  var redisCommandsPerWrite = defaults.commandsPerWrite

  @Option(help: "Redis commands in flight across the pool; beyond it reads fail at once with 503 + Retry-After.")
  var redisMaxInFlight = defaults.maxInFlight

  @Option(help: "Seconds to connect and authenticate a Redis connection.")
  var redisConnectTimeout = defaults.connectTimeout

  @Option(help: "Seconds to wait for a Redis reply; then the command fails (the connection stays).")
  var redisCommandTimeout = defaults.commandTimeout

  @Option(help: "Seconds a connection with commands waiting may go without any reply before it is reset.")
  var redisStallTimeout = defaults.stallTimeout

  @Option(help: "First reconnect delay in seconds (doubles per failure, jittered).")
  var redisReconnectBaseDelay = defaults.reconnectBaseDelay

  @Option(help: "Longest reconnect delay in seconds.")
  var redisReconnectMaxDelay = defaults.reconnectMaxDelay

  @Option(
    help:
      "Redis Cluster: where reads go: primary, replica (only replicas; a shard without a healthy replica is read from its primary) or prefer-replica (a replica when one is connected). Writes always go to primaries."
  )
  var redisReadFrom = defaults.readFrom

  @Option(help: "Redis Cluster: seconds between topology refreshes of a healthy cluster.")
  var redisClusterRefresh = defaults.clusterRefreshInterval

  @Option(
    help:
      "Redis Cluster: seconds at least between two topology refreshes, however often redirects and lost connections ask for one."
  )
  var redisClusterRefreshMinInterval = defaults.clusterRefreshMinInterval

  @Option(help: "Redis Cluster: redirections (MOVED, ASK, TRYAGAIN) one command may follow before it fails.")
  var redisClusterMaxRedirects = defaults.clusterMaxRedirects

  func validate() throws {
    do {
      var sample = RedisConfiguration(endpoint: .unix(path: "/"))
      sample.clusterSeeds = [sample.endpoint]  // the read-from check needs the URL, done later
      try apply(to: sample).validate()
    } catch let error as ConfigurationError {
      throw ValidationError("--\(error)")
    }
  }

  /// `base` with every pool setting of these flags.
  func apply(to base: RedisConfiguration) -> RedisConfiguration {
    var configuration = base
    configuration.poolSize = redisPoolSize
    configuration.commandsPerWrite = redisCommandsPerWrite
    configuration.maxInFlight = redisMaxInFlight
    configuration.connectTimeout = redisConnectTimeout
    configuration.commandTimeout = redisCommandTimeout
    configuration.stallTimeout = redisStallTimeout
    configuration.reconnectBaseDelay = redisReconnectBaseDelay
    configuration.reconnectMaxDelay = redisReconnectMaxDelay
    configuration.readFrom = redisReadFrom
    configuration.clusterRefreshInterval = redisClusterRefresh
    configuration.clusterRefreshMinInterval = redisClusterRefreshMinInterval
    configuration.clusterMaxRedirects = redisClusterMaxRedirects
    return configuration
  }

  /// The configuration for `url` with these flags (URL errors never show the password).
  func configuration(url: String) throws -> RedisConfiguration {
    let configuration = apply(to: try RedisConfiguration(url: url))
    try configuration.validate()
    return configuration
  }
}

extension RedisConfiguration.ReadFrom: ExpressibleByArgument {}

/// The feature routes' settings. Defaults come from `FeatureServiceConfiguration`.
struct FeatureOptions: ParsableArguments {
  private static let defaults = FeatureServiceConfiguration()

  @Option(help: "Registry YAML file. Default: the bundled FinServe registry.")
  var registry: String?

  @Option(help: "Seconds a feature row is cached in process; 0 turns the cache off.")
  var cacheTTL = defaults.cache.ttl

  @Option(help: "Cached rows in total (split over the loops); least recently used go first.")
  var cacheMaxEntries = defaults.cache.maxEntries

  @Option(help: "Bytes the cached rows may take in total (estimated; split over the loops).")
  var cacheMaxBytes = defaults.cache.maxBytes

  @Option(
    help:
      "Share of the cache TTL, before expiry, in which a hit also re-reads the row from Redis in the background (0 turns it off)."
  )
  var cacheRefreshAhead = defaults.cache.refreshAhead

  @Option(help: "Seconds a missing instance is remembered as missing.")
  var negativeCacheTTL = defaults.cache.negativeTTL

  @Option(
    help:
      "Share of the cache entries that may remember missing instances (so floods of unknown ids evict only each other)."
  )
  var negativeCacheShare = defaults.cache.negativeShare

  @Option(help: "Seconds past expiry a cached row may be served, marked stale, while Redis fails.")
  var staleIfError = defaults.cache.staleIfError

  @Option(help: "Most items in one POST /features; more gets 413.")
  var maxBatchItems = defaults.maxBatchItems

  func validate() throws {
    do {
      try configuration.validate()
    } catch let error as ConfigurationError {
      throw ValidationError("--\(error)")
    }
  }

  var configuration: FeatureServiceConfiguration {
    var configuration = FeatureServiceConfiguration()
    configuration.cache.ttl = cacheTTL
    configuration.cache.maxEntries = cacheMaxEntries
    configuration.cache.maxBytes = cacheMaxBytes
    configuration.cache.negativeTTL = negativeCacheTTL
    configuration.cache.negativeShare = negativeCacheShare
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
