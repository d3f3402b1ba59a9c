import ArgumentParser
import FeatureServer
import Foundation
import HTTPCore
import Logging
import Reactor
import RedisPool

/// `featureserver serve`: runs the feature server until SIGTERM or SIGINT, then drains.
struct ServeCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "serve",
    abstract: "Run the feature server.",
    discussion: """
      Every flag can also be set as an environment variable FEATURESERVER_<FLAG>, e.g.
      FEATURESERVER_PORT=9000 or FEATURESERVER_REDIS_URL=redis://10.0.0.5:6379/0; a flag on the
      command line wins. Without --redis-url the server starts its own redis-server on a private
      socket and loads the bundled FinServe data (data/*.csv) into it.
      """)

  @OptionGroup var http: HTTPOptions
  @OptionGroup var redis: RedisOptions
  @OptionGroup var features: FeatureOptions
  @OptionGroup var model: ModelOptions
  @OptionGroup var feast: FeastOptions
  @OptionGroup var streaming: StreamOptions

  @Option(help: "Least severe log level written: trace, debug, info, notice, warning, error, critical.")
  var logLevel: Logger.Level = .info

  @Option(help: "The redis-server to start when no --redis-url is given.")
  var redisServer = "redis-server"

  @Option(help: "Directory of the CSV files loaded into the server's own Redis.")
  var dataDirectory: String?

  func run() throws {
    bootstrapLogging(level: logLevel)
    let registry = try features.loadRegistry()
    let feastRepository = try feast.loadRepository()
    if let feastRepository { logFeastRepository(feastRepository) }
    // Checked before anything starts: a model that cannot serve stops start-up with the reason.
    if let path = model.path {
      do {
        _ = try LoadedModel(
          path: path, registry: registry, drift: DriftSettings(window: model.driftWindow, loops: 1),
          limits: model.limits)
      } catch {
        throw ValidationError("--model: \(error)")
      }
    }
    var httpConfiguration = http.configuration
    try checkOpenFileLimit(&httpConfiguration)
    var ownRedis: OwnRedisServer? = nil
    defer { ownRedis?.stop() }
    var redisConfiguration: RedisConfiguration
    if let given = redis.redisURL {
      do {
        redisConfiguration = try redis.configuration(url: given)
      } catch {
        throw ValidationError("--redis-url: \(error)")
      }
    } else if let feastRepository {
      // The Feast repository's own online store.
      do {
        redisConfiguration = try redis.configuration(url: feastRepository.redisURL)
      } catch {
        throw ValidationError("--feast-repo: online_store.connection_string: \(error)")
      }
    } else {
      let started = try OwnRedisServer(executable: redisServer)
      ownRedis = started
      redisConfiguration = try redis.configuration(url: started.url)
      redisConfiguration.password = started.password
      cliLogger.info("started its own redis-server", metadata: ["redis": "\(started.url)"])
    }
    let group = try EventLoopGroup(threads: http.threads)
    let pool: RedisPool
    do {
      pool = try RedisPool(configuration: redisConfiguration, group: group)
    } catch {
      throw ValidationError("\(error)")
    }
    try group.start()
    pool.start()
    if ownRedis != nil {
      try loadBundledData(registry: registry, pool: pool)
    }
    var configuration = features.configuration
    configuration.stream = streaming.configuration
    model.apply(to: &configuration)
    if let stream = configuration.stream.stream, !registry.entities.contains(where: { $0.windows != nil }) {
      throw ValidationError("--stream \(stream): no entity of registry '\(registry.project)' declares windows")
    }
    let models = try model.path.map {
      try ModelStore(
        path: $0, registry: registry, loops: group.loops, driftWindow: model.driftWindow, limits: model.limits)
    }
    let feastServing = feastRepository.map { FeastServing(repository: $0, configuration: feast.configuration) }
    let service = FeatureService(
      registry: registry, pool: pool, configuration: configuration, models: models, feast: feastServing)
    if configuration.stream.stream != nil && !service.consumesStream {
      throw ValidationError("--stream: the stream consumer could not be created (see the log)")
    }
    let router = Router()
    service.install(on: router)
    let server = HTTPServer(configuration: httpConfiguration, group: group, router: router)
    service.server = server
    let registryWatcher =
      feastServing != nil && feast.configuration.registryRefreshSeconds > 0
      ? FeastRegistryWatcher(
        service: service, loop: group.loops[0], interval: feast.configuration.registryRefreshSeconds)
      : nil
    defer { withExtendedLifetime(registryWatcher) {} }
    try service.startStreaming()
    defer { service.stopStreaming() }
    do {
      let reload: @Sendable (Int32) -> Void = { _ in
        cliLogger.notice("SIGHUP: reloading the model")
        models?.reload()
      }
      try ServerRunner.run(server: server, group: group, otherSignals: [SIGHUP: reload]) { port in
        cliLogger.info(
          "serving",
          metadata: [
            "registry": "\(registry.project)", "address": "\(http.bind):\(port)", "loops": "\(http.threads)",
            "redis": "\(redisConfiguration.redactedURL)", "redis_connections": "\(redisConfiguration.poolSize)",
            "model": "\(models?.current.version ?? "none")",
            "feast_project": "\(feastRepository?.project ?? "none")",
          ])
      }
    } catch {
      throw ValidationError("cannot serve on \(http.bind):\(http.port): \(error)")
    }
  }

  /// What a Feast repository brings: the views served, and each thing that is not, with why.
  private func logFeastRepository(_ repository: FeastRepository) {
    cliLogger.info(
      "serving Feast's API",
      metadata: [
        "project": "\(repository.project)", "registry": "\(repository.registryPath)",
        "feature_views": "\(repository.registry.views.map(\.name).joined(separator: ","))",
        "feature_services": "\(repository.registry.services.keys.sorted().joined(separator: ","))",
      ])
    for item in repository.registry.notServed {
      cliLogger.warning(
        "not served", metadata: ["kind": "\(item.kind)", "name": "\(item.name)", "reason": "\(item.reason)"])
    }
  }

  /// Raises the open-files limit as far as it goes and lowers `--max-connections` (with a
  /// warning) when even that cannot hold them; refuses to start when not one client fits.
  private func checkOpenFileLimit(_ configuration: inout ServerConfiguration) throws {
    guard let limit = OpenFileLimit.raise() else { return }
    let fit = OpenFileLimit.connectionsThatFit(limit: limit, redisConnections: redis.redisPoolSize)
    guard fit < configuration.maxConnections else { return }
    guard fit >= 1 else {
      throw ValidationError(
        "the open-files limit (\(limit)) leaves no room for client connections next to \(redis.redisPoolSize) Redis connections; raise it (ulimit -n)"
      )
    }
    cliLogger.warning(
      "--max-connections lowered to what the open-files limit allows; raise the limit (ulimit -n) to serve more",
      metadata: [
        "asked": "\(configuration.maxConnections)", "serving": "\(fit)", "open_files_limit": "\(limit)",
      ])
    configuration.maxConnections = fit
  }

  private func loadBundledData(registry: Registry, pool: RedisPool) throws {
    let directory =
      dataDirectory
      ?? URL(fileURLWithPath: RegistryLoader.bundledPath).deletingLastPathComponent().deletingLastPathComponent()
      .appendingPathComponent("data").path
    let deadline = Date().addingTimeInterval(5)
    while pool.statisticsSnapshot().connectionsUpByLoop.first ?? 0 == 0 && Date() < deadline { usleep(10_000) }
    let loader = Loader(registry: registry, pool: pool)
    var options = Loader.Options()
    options.shiftTimestampsToNow = true
    for (file, entity) in [("customers", "customer"), ("accounts", "account"), ("merchants", "merchant")] {
      let path = "\(directory)/\(file).csv"
      guard FileManager.default.fileExists(atPath: path) else {
        cliLogger.warning(
          "no bundled data file; serving without it", metadata: ["file": "\(path)", "entity": "\(entity)"])
        continue
      }
      let report = try loader.load(entity: entity, path: path, options: options)
      cliLogger.info(
        "loaded bundled data", metadata: ["entity": "\(entity)", "rows": "\(report.loaded)", "file": "\(path)"])
    }
  }
}
