import HTTPCore
import Reactor
import RedisPool
import Synchronization

/// Settings of the feature routes. Each has a flag.
public struct FeatureServiceConfiguration: Sendable {
  public var cache = CacheConfiguration()
  /// Streaming ingest (the event stream's consumer, POST /events) and window features.
  public var stream = StreamConfiguration()
  /// Most items in one `POST /features`; more gets 413.
  public var maxBatchItems = 100
  /// `POST /predict` answers `is_fraud: true` at or above this probability.
  public var fraudThreshold = 0.7
  /// When set, `POST /admin/reload-model` exists and demands `Authorization: Bearer <token>`.
  public var adminToken: String? = nil
  /// The version reported by `featureserver_build_info`.
  public var version = "0.1.0"

  public init() {}

  /// Refuses settings that cannot work, naming the flag.
  public func validate() throws {
    try cache.validate()
    try ConfigurationError.check("max-batch-items", maxBatchItems, in: 1...100_000)
    guard fraudThreshold.isFinite, fraudThreshold >= 0, fraudThreshold <= 1 else {
      throw ConfigurationError("fraud-threshold must be between 0 and 1, got \(fraudThreshold)")
    }
  }
}

/// The feature server's routes over a registry, a Redis pool and one reader per loop:
/// `GET /features/:entity/:id`, `POST /features`, `POST /predict` (with a model),
/// `POST /admin/reload-model` (with a model and an admin token), `/health`, `/ready` and `/metrics`;
/// with a Feast repository, Feast's `POST /get-online-features`, `/write-to-online-store` and `/push`.
public final class FeatureService: @unchecked Sendable {
  public let registry: Registry
  public let pool: RedisPool
  public let configuration: FeatureServiceConfiguration
  let readers: [FeatureReader]
  /// The cache all loops share; nil when `--cache-ttl 0` turns it off.
  let cache: SharedFeatureCache?
  /// Per loop: the Feast selections worked out so far (empty without a Feast repository).
  let feastSelectionMemos: [FeastSelectionMemo]
  let metrics: [LoopMetrics]
  /// The HTTP server in front of these routes, for its connection metrics (set once, before it
  /// starts serving).
  public var server: HTTPServer? = nil
  /// The fraud model; nil serves features only.
  public let models: ModelStore?
  /// Feast's API over a Feast repository's Redis online store; nil: not served. Replaced as a
  /// whole when the registry file changes (`replaceFeast`); each request takes the current one once.
  public var feast: FeastServing? { feastState.withLock { $0 } }
  private let feastState: Mutex<FeastServing?>
  /// Registry re-reads: [taken, refused].
  let feastReloads = Mutex<[Int]>([0, 0])
  let predictionScratch: [PredictionScratch]

  public init(
    registry: Registry, pool: RedisPool, configuration: FeatureServiceConfiguration, models: ModelStore? = nil,
    feast: FeastServing? = nil
  ) {
    self.registry = registry
    self.models = models
    feastState = Mutex(feast)
    self.pool = pool
    self.configuration = configuration
    let loops = pool.group.loops
    let cache = configuration.cache.enabled ? SharedFeatureCache(configuration: configuration.cache) : nil
    self.cache = cache
    let tracking = Self.windowInvalidations(
      cache: cache, registry: registry, redis: pool.configuration, stream: configuration.stream)
    windowInvalidations = tracking
    var readers: [FeatureReader] = []
    var metrics: [LoopMetrics] = []
    for loop in loops {
      // Room for views a re-read registry adds (a view beyond it is counted in the totals only).
      let loopMetrics = LoopMetrics(
        entityCount: registry.entities.count, feastViewCount: feast.map { 2 * $0.registry.views.count + 64 } ?? 0)
      readers.append(
        FeatureReader(
          loop: loop, redis: pool.on(loop), cache: cache, metrics: loopMetrics, registry: registry,
          windowCacheLifetime: configuration.cache.enabled
            ? nanoseconds(fromSeconds: configuration.stream.windowCacheTTL) : 0, windowTracking: tracking,
          rowCacheLifetime: nanoseconds(fromSeconds: configuration.cache.ttl)))
      metrics.append(loopMetrics)
    }
    self.readers = readers
    feastSelectionMemos = loops.map { _ in FeastSelectionMemo() }
    predictionScratch = loops.map { _ in PredictionScratch() }
    self.metrics = metrics
    if let stream = configuration.stream.stream, registry.entities.contains(where: { $0.windows != nil }) {
      do {
        let writeThrough = tracking.flatMap { listener in
          listener.registration == .byWriter ? (cache: cache!, listener: listener) : nil
        }
        ingest = try StreamIngest(
          configuration: configuration.stream, stream: stream, registry: registry, redis: pool.configuration,
          writeThrough: writeThrough)
      } catch {
        streamLogger.error("cannot create the stream consumer", metadata: ["error": "\(error)"])
        ingest = nil
      }
    } else {
      ingest = nil
    }
  }

  /// The event stream's consumer on its own loop; nil without `--stream` or without window
  /// features.
  let ingest: StreamIngest?
  var consumer: StreamConsumer? { ingest?.consumer }
  /// Whether the event stream is consumed (`--stream` with window features, and the consumer
  /// could be created).
  public var consumesStream: Bool { ingest != nil }

  /// Hears which window events hashes change, so the cache keeps them until then; nil without
  /// window features, without a cache, on a cluster or with `--no-window-cache-invalidation`.
  let windowInvalidations: RedisInvalidationListener?

  private static func windowInvalidations(
    cache: SharedFeatureCache?, registry: Registry, redis: RedisConfiguration, stream: StreamConfiguration
  ) -> RedisInvalidationListener? {
    guard let cache, stream.windowInvalidation, stream.windowCacheTTL > 0, !redis.isCluster,
      registry.entities.contains(where: { $0.windows != nil })
    else { return nil }
    let prefix = registry.windowEventsKeyPrefix
    // Consuming the stream here, with write-through: the consumer's writing connection registers
    // tracking (NOLOOP), and its writes reach the cache directly (`WindowCacheWriteThrough`).
    let writesThrough = stream.stream != nil && stream.windowWriteThrough
    return RedisInvalidationListener(
      configuration: redis, prefixes: [String(decoding: prefix, as: UTF8.self)],
      registration: writesThrough ? .byWriter : .own,
      handlers: .init(
        keysChanged: { cache.invalidate($0) }, reset: { cache.removeAll(withPrefix: prefix) }))
  }

  /// Starts consuming the event stream and listening for changed window events (after the
  /// pool has started).
  public func startStreaming() throws {
    try windowInvalidations?.start()
    try ingest?.start()
  }

  /// Stops reading the event stream (entries in flight stay pending and are read again later)
  /// and listening for changes.
  public func stopStreaming() {
    ingest?.stop()
    windowInvalidations?.stop()
  }

  /// Adds the routes to `router`.
  public func install(on router: Router) {
    router.get("/features/:entity/:id") { [self] request, responder in getFeatures(request, responder) }
    router.post("/features") { [self] request, responder in postFeatures(request, responder) }
    if let models {
      router.post("/predict") { [self] request, responder in predict(request, responder, models: models) }
      router.get("/drift") { [self] _, responder in drift(responder) }
      if let token = configuration.adminToken, !token.isEmpty {
        router.post("/admin/reload-model") { [self] request, responder in
          reloadModel(request, responder, models: models, token: token)
        }
      }
    }
    if let stream = configuration.stream.stream, consumer != nil {
      router.post("/events") { [self] request, responder in postEvents(request, responder, stream: stream) }
    }
    if feast != nil {
      router.post("/get-online-features") { [self] request, responder in
        getOnlineFeatures(request, responder, feast: feast!)
      }
      router.post("/write-to-online-store") { [self] request, responder in
        writeToOnlineStore(request, responder, feast: feast!)
      }
      router.post("/push") { [self] request, responder in push(request, responder, feast: feast!) }
    }
    router.get("/health") { [self] _, responder in
      answer(responder, .health, HTTPResponse(contentType: "application/json", body: #"{"status":"ok"}"#), since: 0)
    }
    router.get("/ready") { [self] _, responder in ready(responder) }
    router.get("/metrics") { [self] _, responder in
      let body = MetricsRenderer(service: self).render()
      answer(
        responder, .metrics,
        HTTPResponse(
          headers: ["Content-Type": "text/plain; version=0.0.4; charset=utf-8"], body: Array(body.utf8)),
        since: 0)
    }
  }

  /// Responds and counts the request for its route.
  func answer(_ responder: HTTPResponder, _ route: Route, _ response: HTTPResponse, since started: UInt64) {
    let elapsed = started == 0 ? 0 : monotonicNanoseconds() &- started
    metrics[responder.eventLoop.index].recordRequest(route, status: response.status.code, nanoseconds: elapsed)
    responder.respond(response)
  }

  // MARK: Readiness

  /// Reasons the server cannot serve features right now; empty when it can.
  public func notReadyReasons() -> [String] {
    let statistics = pool.statisticsSnapshot()
    var reasons: [String] = []
    for (loop, up) in statistics.connectionsUpByLoop.enumerated() where up == 0 {
      reasons.append("loop \(loop) has no live Redis connection (\(pool.configuration.redactedURL))")
    }
    if let cluster = statistics.cluster {
      guard let topology = cluster.topology else {
        let why = cluster.lastRefreshError.map { ": \($0)" } ?? ""
        reasons.append("the Redis Cluster topology is not known yet\(why)")
        return reasons
      }
      let served = topology.slotsServed
      if served < ClusterSlot.count {
        reasons.append(
          "\(ClusterSlot.count - served) of \(ClusterSlot.count) Redis Cluster slots have no healthy primary")
      }
      for (loop, nodes) in cluster.unreachableNodesByLoop.enumerated() where !nodes.isEmpty {
        reasons.append("loop \(loop) has no live connection to Redis Cluster node \(nodes.joined(separator: ", "))")
      }
    }
    return reasons
  }

  private func ready(_ responder: HTTPResponder) {
    let reasons = notReadyReasons()
    var body: [UInt8] = []
    if reasons.isEmpty {
      JSONWriter.appendRaw(#"{"status":"ready","registry":"#, to: &body)
      JSONWriter.appendString(registry.project, to: &body)
      body.append(UInt8(ascii: "}"))
      answer(responder, .ready, HTTPResponse(headers: jsonHeaders, body: body), since: 0)
      return
    }
    JSONWriter.appendRaw(#"{"status":"not_ready","reasons":["#, to: &body)
    for (index, reason) in reasons.enumerated() {
      if index > 0 { body.append(UInt8(ascii: ",")) }
      JSONWriter.appendString(reason, to: &body)
    }
    JSONWriter.appendRaw("]}", to: &body)
    var headers = jsonHeaders
    headers.add(name: "Retry-After", value: "1")
    answer(responder, .ready, HTTPResponse(status: .serviceUnavailable, headers: headers, body: body), since: 0)
  }
}

let jsonHeaders = HTTPHeaders.prerendered([("Content-Type", "application/json")])

extension FeatureService {
  /// Serves a re-read Feast repository from now on (requests in flight finish with the one they
  /// took). Its rows have their own cache keys (the registry's generation), and each loop's memo
  /// of selections starts again.
  public func replaceFeast(_ serving: FeastServing) {
    feastState.withLock { $0 = serving }
  }
}
