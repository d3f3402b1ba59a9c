import Atomics
import Foundation
import HTTPCore
import Reactor
import RedisPool

/// Renders `/metrics` in the Prometheus text format (version 0.0.4), summing every loop's
/// counters at scrape time. Names are prefixed `featureserver_`.
struct MetricsRenderer {
  let service: FeatureService
  init(service: FeatureService) {
    self.service = service
  }

  func render() -> String {
    var text = ""
    requests(&text)
    connections(&text)
    cache(&text)
    if let listener = service.windowInvalidations { windowInvalidations(&text, listener) }
    redis(&text)
    if let consumer = service.consumer {
      stream(&text, consumer.metrics)
      if let writeThrough = consumer.writeThrough { windowWriteThrough(&text, writeThrough) }
    }
    featureAge(&text)
    predictions(&text)
    drift(&text)
    process(&text)
    return text
  }

  /// One histogram series: cumulative `_bucket` lines (the last is +Inf), `_sum` and `_count`.
  /// `label` is `name="value"`, or empty.
  private func histogram(
    _ text: inout String, _ name: String, label: String, bounds: [Double], counts: [Int], sum: Double
  ) {
    let prefix = label.isEmpty ? "{" : "{\(label),"
    var cumulative = 0
    for (index, count) in counts.enumerated() {
      cumulative += count
      let bound = index < bounds.count ? format(bounds[index]) : "+Inf"
      text += "featureserver_\(name)_bucket\(prefix)le=\"\(bound)\"} \(cumulative)\n"
    }
    let labels = label.isEmpty ? "" : "{\(label)}"
    text += "featureserver_\(name)_sum\(labels) \(format(sum))\nfeatureserver_\(name)_count\(labels) \(cumulative)\n"
  }

  private func header(_ text: inout String, _ name: String, _ type: String, _ help: String) {
    text += "# HELP featureserver_\(name) \(help)\n# TYPE featureserver_\(name) \(type)\n"
  }

  private func requests(_ text: inout String) {
    let statusSlots = LoopMetrics.statuses.count + 5
    header(&text, "http_requests_total", "counter", "HTTP requests answered, by route, method and status.")
    for route in Route.allCases {
      for slot in 0..<statusSlots {
        let count = service.metrics.reduce(0) {
          $0 + $1.requests[route.rawValue * statusSlots + slot].load(ordering: .relaxed)
        }
        guard count > 0 else { continue }
        text +=
          "featureserver_http_requests_total{route=\"\(route.label)\",method=\"\(route.method)\",status=\"\(LoopMetrics.statusLabel(slot: slot))\"} \(count)\n"
      }
    }
    header(&text, "http_request_duration_seconds", "histogram", "Time from a request's dispatch to its answer.")
    let bucketCount = LoopMetrics.durationBounds.count + 1
    for route in Route.allCases where route != .other {
      let counts = (0..<bucketCount).map { bucket in
        service.metrics.reduce(0) {
          $0 + $1.durationBuckets[route.rawValue * bucketCount + bucket].load(ordering: .relaxed)
        }
      }
      let sumSeconds =
        Double(service.metrics.reduce(0) { $0 + $1.durationSumNanoseconds[route.rawValue].load(ordering: .relaxed) })
        / 1e9
      histogram(
        &text, "http_request_duration_seconds", label: "route=\"\(route.label)\"", bounds: LoopMetrics.durationBounds,
        counts: counts, sum: sumSeconds)
    }
  }

  /// The HTTP server's connections, limits hit and memory held for clients.
  private func connections(_ text: inout String) {
    guard let server = service.server else { return }
    header(&text, "http_connections_open", "gauge", "Client connections open now.")
    text += "featureserver_http_connections_open \(server.statistics.openConnections)\n"
    header(
      &text, "http_buffered_output_bytes", "gauge", "Response bytes written by handlers and not yet taken by clients.")
    text += "featureserver_http_buffered_output_bytes \(server.bufferedOutputBytes)\n"
    header(
      &text, "http_buffered_body_bytes", "gauge", "Request body bytes being received (declared lengths count in full).")
    text += "featureserver_http_buffered_body_bytes \(server.bufferedBodyBytes)\n"
    header(&text, "http_requests_by_protocol_total", "counter", "Requests received, by protocol (http/1.1, h2).")
    for kind in ServerStatistics.RequestProtocol.allCases {
      text +=
        "featureserver_http_requests_by_protocol_total{protocol=\"\(kind.label)\"} \(server.statistics.requests(kind))\n"
    }
    header(&text, "http2_streams_open", "gauge", "HTTP/2 streams open now, over all connections.")
    text += "featureserver_http2_streams_open \(server.statistics.openStreams)\n"
    header(
      &text, "http_connection_events_total", "counter",
      "Connection events: accepted, refused, closed by a limit, HTTP/2 GOAWAYs sent by reason, streams refused or reset."
    )
    for event in ServerStatistics.Event.allCases {
      text += "featureserver_http_connection_events_total{event=\"\(event.label)\"} \(server.statistics.count(event))\n"
    }
  }

  private func cache(_ text: inout String) {
    header(&text, "cache_requests_total", "counter", "Feature reads by cache result.")
    for result in CacheResult.allCases {
      let count = service.metrics.reduce(0) { $0 + $1.cacheResults[result.rawValue].load(ordering: .relaxed) }
      text += "featureserver_cache_requests_total{result=\"\(result.label)\"} \(count)\n"
    }
    let totals = service.cache?.totals ?? (entries: 0, negativeEntries: 0, bytes: 0, evictions: 0)
    header(&text, "cache_entries", "gauge", "Entries in the in-process cache (shared by all loops).")
    text += "featureserver_cache_entries \(totals.entries)\n"
    header(
      &text, "cache_negative_entries", "gauge",
      "Of the cache's entries, those remembering a missing instance (or an entity without recent events).")
    text += "featureserver_cache_negative_entries \(totals.negativeEntries)\n"
    header(&text, "cache_evictions_total", "counter", "Entries evicted to make room.")
    text += "featureserver_cache_evictions_total \(totals.evictions)\n"
    header(
      &text, "cache_refreshes_total", "counter", "Entries re-read from Redis in the background before they expired.")
    text +=
      "featureserver_cache_refreshes_total \(service.metrics.reduce(0) { $0 + $1.cacheRefreshes.load(ordering: .relaxed) })\n"
    header(&text, "cache_max_entries", "gauge", "Configured cache capacity.")
    text +=
      "featureserver_cache_max_entries \(service.configuration.cache.enabled ? service.configuration.cache.maxEntries : 0)\n"
    header(&text, "cache_bytes", "gauge", "Estimated bytes held by cached entries.")
    text += "featureserver_cache_bytes \(totals.bytes)\n"
    header(&text, "cache_max_bytes", "gauge", "Configured bound on the cache's bytes.")
    text +=
      "featureserver_cache_max_bytes \(service.configuration.cache.enabled ? service.configuration.cache.maxBytes : 0)\n"
    header(&text, "feature_decode_errors_total", "counter", "Stored values that did not parse as the registry's type.")
    text +=
      "featureserver_feature_decode_errors_total \(service.metrics.reduce(0) { $0 + $1.decodeErrors.load(ordering: .relaxed) })\n"
    header(
      &text, "stored_row_errors_total", "counter",
      "Reads that found something other than a feature row at an instance's key (e.g. a key of another type).")
    for (position, entity) in service.registry.entities.enumerated() {
      let count = service.metrics.reduce(0) { $0 + $1.storedRowErrors[position].load(ordering: .relaxed) }
      text += "featureserver_stored_row_errors_total{entity=\"\(entity.name)\"} \(count)\n"
    }
    if let feast = service.feast {
      let base = service.registry.entities.count
      for view in feast.registry.views {
        let slot = base + view.index
        let count = service.metrics.reduce(0) {
          $0 + (slot < $1.storedRowErrors.count ? $1.storedRowErrors[slot].load(ordering: .relaxed) : 0)
        }
        text += "featureserver_stored_row_errors_total{feature_view=\"\(escape(view.name))\"} \(count)\n"
      }
    }
    if service.feast != nil {
      let reloads = service.feastReloads.withLock { $0 }
      header(
        &text, "feast_registry_reloads_total", "counter",
        "Reads of a changed Feast registry file: served, or refused (the previous one is kept).")
      text += "featureserver_feast_registry_reloads_total{result=\"served\"} \(reloads[0])\n"
      text += "featureserver_feast_registry_reloads_total{result=\"refused\"} \(reloads[1])\n"
    }
    // Exported (as zeros) without a Feast repository too: dashboards and rules see one set of series.
    header(
      &text, "feast_entity_rows_total", "counter",
      "Feast entity rows served, by whether the key held the view's fields (absent rows are served as nulls).")
    for result in FeastRowResult.allCases {
      let count = service.metrics.reduce(0) { $0 + $1.feastRows[result.rawValue].load(ordering: .relaxed) }
      text += "featureserver_feast_entity_rows_total{result=\"\(result.label)\"} \(count)\n"
    }
  }

  private func redis(_ text: inout String) {
    let statistics = service.pool.statisticsSnapshot()
    header(&text, "redis_connections", "gauge", "Redis connections configured in the pool.")
    text += "featureserver_redis_connections \(statistics.connectionsConfigured)\n"
    header(&text, "redis_connections_up", "gauge", "Redis connections connected and ready.")
    text += "featureserver_redis_connections_up \(statistics.connectionsUp)\n"
    header(&text, "redis_commands_in_flight", "gauge", "Redis commands sent and not yet answered.")
    text += "featureserver_redis_commands_in_flight \(statistics.commandsInFlight)\n"
    header(&text, "redis_commands_total", "counter", "Redis commands finished, by outcome.")
    for outcome in RedisOutcome.allCases {
      text += "featureserver_redis_commands_total{outcome=\"\(outcome.label)\"} \(statistics.commands[outcome] ?? 0)\n"
    }
    header(&text, "redis_reconnects_total", "counter", "Redis connections re-established after a loss.")
    text += "featureserver_redis_reconnects_total \(statistics.reconnects)\n"
    header(&text, "redis_command_duration_seconds", "histogram", "Redis round-trip time per command.")
    histogram(
      &text, "redis_command_duration_seconds", label: "", bounds: statistics.latencyBounds,
      counts: statistics.latencyBucketCounts, sum: statistics.latencySumSeconds)
    if let cluster = statistics.cluster { redisCluster(&text, cluster, redirects: statistics.redirects) }
  }

  /// Streaming ingest: only when the server consumes an event stream.
  private func stream(_ text: inout String, _ metrics: StreamMetrics) {
    header(&text, "stream_events_total", "counter", "Stream events stored into window features.")
    text += "featureserver_stream_events_total \(metrics.eventsIn.load(ordering: .relaxed))\n"
    header(&text, "stream_bad_events_total", "counter", "Stream events skipped as unusable, by problem.")
    for (index, problem) in WindowEventProblem.allCases.enumerated() {
      text +=
        "featureserver_stream_bad_events_total{problem=\"\(problem.rawValue)\"} \(metrics.badEvents[index].load(ordering: .relaxed))\n"
    }
    header(
      &text, "stream_late_events_total", "counter",
      "Events dropped as late: every window of an entity they belong to had closed (end <= watermark).")
    text += "featureserver_stream_late_events_total \(metrics.lateEvents.load(ordering: .relaxed))\n"
    header(&text, "stream_duplicate_events_total", "counter", "Re-delivered events already stored (counted once).")
    text += "featureserver_stream_duplicate_events_total \(metrics.duplicateEvents.load(ordering: .relaxed))\n"
    header(
      &text, "stream_evicted_events_total", "counter",
      "Events pushed out of an entity's window state by --window-max-events-per-entity.")
    text += "featureserver_stream_evicted_events_total \(metrics.evictedEvents.load(ordering: .relaxed))\n"
    header(&text, "stream_write_failures_total", "counter", "Batches whose writes failed and were read again.")
    text += "featureserver_stream_write_failures_total \(metrics.writeFailures.load(ordering: .relaxed))\n"
    header(&text, "stream_claimed_entries_total", "counter", "Entries taken over from stopped consumers (XAUTOCLAIM).")
    text += "featureserver_stream_claimed_entries_total \(metrics.claimedEntries.load(ordering: .relaxed))\n"
    let maxEventTime = metrics.maxEventTime.load(ordering: .relaxed)
    header(
      &text, "stream_watermark_lag_seconds", "gauge",
      "Wall-clock time minus the largest event time seen (the watermark trails this by its delay).")
    text +=
      "featureserver_stream_watermark_lag_seconds \(maxEventTime > 0 ? format(Double(wallClockMicroseconds() - Int64(maxEventTime)) / 1e6) : "NaN")\n"
    header(&text, "stream_group_lag", "gauge", "Entries of the stream not yet delivered to the group (XINFO GROUPS).")
    text += "featureserver_stream_group_lag \(metrics.groupLag.load(ordering: .relaxed))\n"
    header(&text, "stream_group_pending", "gauge", "Entries delivered to the group and not yet acknowledged.")
    text += "featureserver_stream_group_pending \(metrics.groupPending.load(ordering: .relaxed))\n"
    header(
      &text, "stream_processing_seconds", "histogram", "From an entry's XADD to its events being servable.")
    histogram(
      &text, "stream_processing_seconds", label: "", bounds: StreamMetrics.latencyBounds,
      counts: metrics.latencyBuckets.map { $0.load(ordering: .relaxed) },
      sum: Double(metrics.latencySumMicroseconds.load(ordering: .relaxed)) / 1e6)
    header(
      &text, "window_read_failures_total", "counter",
      "Reads of an entity's window events that failed while its stored features were served (windows null).")
    text +=
      "featureserver_window_read_failures_total \(service.metrics.reduce(0) { $0 + $1.windowReadFailures.load(ordering: .relaxed) })\n"
  }

  private func windowWriteThrough(_ text: inout String, _ writeThrough: WindowCacheWriteThrough) {
    header(
      &text, "window_cache_own_writes_total", "counter",
      "Events this server's consumer stored, by what became of the entity's cached events: applied (the cache took the event), dropped (it no longer matched Redis), not_cached."
    )
    for outcome in FeatureCache.OwnWriteOutcome.allCases {
      text +=
        "featureserver_window_cache_own_writes_total{outcome=\"\(outcome.label)\"} \(writeThrough.outcomes[outcome.rawValue].load(ordering: .relaxed))\n"
    }
  }

  private func windowInvalidations(_ text: inout String, _ listener: RedisInvalidationListener) {
    let statistics = listener.statistics
    header(
      &text, "window_invalidation_listening", "gauge",
      "1 while Redis's invalidations of window events are heard (events stay cached until they change); with write-through, once the consumer's writer has registered."
    )
    text += "featureserver_window_invalidation_listening \(listener.isListening ? 1 : 0)\n"
    header(&text, "window_invalidations_total", "counter", "Invalidation messages and keys heard from Redis.")
    text += "featureserver_window_invalidations_total{kind=\"message\"} \(statistics.messages)\n"
    text += "featureserver_window_invalidations_total{kind=\"key\"} \(statistics.keys)\n"
    header(
      &text, "window_invalidation_connections_total", "counter",
      "Connections made to hear invalidations (more than 1: it was lost and made again).")
    text += "featureserver_window_invalidation_connections_total \(statistics.connections)\n"
  }

  private func redisCluster(_ text: inout String, _ cluster: ClusterStatus, redirects: [ClusterRedirect.Kind: Int]) {
    header(&text, "redis_cluster_nodes", "gauge", "Redis Cluster nodes in the last topology read, by role and health.")
    let nodes = cluster.topology?.nodes ?? []
    for role in ["primary", "replica"] {
      for health in ["ok", "failed"] {
        let count = nodes.filter { ($0.isPrimary ? "primary" : "replica") == role && $0.isHealthy == (health == "ok") }
          .count
        text += "featureserver_redis_cluster_nodes{role=\"\(role)\",health=\"\(health)\"} \(count)\n"
      }
    }
    header(&text, "redis_cluster_slots_served", "gauge", "Cluster slots (of 16384) owned by a healthy primary.")
    text += "featureserver_redis_cluster_slots_served \(cluster.topology?.slotsServed ?? 0)\n"
    header(&text, "redis_cluster_redirects_total", "counter", "Cluster redirections followed, by kind.")
    for kind in ClusterRedirect.Kind.allCases {
      text += "featureserver_redis_cluster_redirects_total{kind=\"\(kind.label)\"} \(redirects[kind] ?? 0)\n"
    }
    header(&text, "redis_cluster_topology_refreshes_total", "counter", "Cluster topology reads, by result.")
    for result in ["ok", "failed"] {
      text +=
        "featureserver_redis_cluster_topology_refreshes_total{result=\"\(result)\"} \(cluster.refreshes[result] ?? 0)\n"
    }
  }

  private func featureAge(_ text: inout String) {
    header(&text, "feature_age_seconds", "histogram", "Age of served feature rows (now minus event time), by entity.")
    let bucketCount = LoopMetrics.ageBounds.count + 1
    for (entityIndex, entity) in service.registry.entities.enumerated() {
      let counts = (0..<bucketCount).map { bucket in
        service.metrics.reduce(0) { $0 + $1.ageBuckets[entityIndex * bucketCount + bucket].load(ordering: .relaxed) }
      }
      let total = service.metrics.reduce(0) { $0 + $1.ageSumSeconds[entityIndex].load(ordering: .relaxed) }
      histogram(
        &text, "feature_age_seconds", label: "entity=\"\(entity.name)\"", bounds: LoopMetrics.ageBounds, counts: counts,
        sum: Double(total))
    }
  }

  private func predictions(_ text: inout String) {
    guard let models = service.models else { return }
    header(
      &text, "predictions_total", "counter",
      "Predictions by outcome (exclusive: a degraded prediction counts only as degraded).")
    for outcome in PredictionOutcome.allCases {
      let count = service.metrics.reduce(0) { $0 + $1.predictions[outcome.rawValue].load(ordering: .relaxed) }
      text += "featureserver_predictions_total{outcome=\"\(outcome.label)\"} \(count)\n"
    }
    header(&text, "model_inference_seconds", "histogram", "Time to score one prediction with the model.")
    let counts = (0...LoopMetrics.inferenceBounds.count).map { bucket in
      service.metrics.reduce(0) { $0 + $1.inferenceBuckets[bucket].load(ordering: .relaxed) }
    }
    let sum = Double(service.metrics.reduce(0) { $0 + $1.inferenceSumNanoseconds.load(ordering: .relaxed) }) / 1e9
    histogram(
      &text, "model_inference_seconds", label: "", bounds: LoopMetrics.inferenceBounds, counts: counts, sum: sum)
    let current = models.current
    header(&text, "model_info", "gauge", "The model serving /predict; the value is always 1.")
    text +=
      "featureserver_model_info{version=\"\(escape(current.version))\",objective=\"\(current.model.objective.rawValue)\",trees=\"\(current.model.treeCount)\"} 1\n"
    header(&text, "model_reloads_total", "counter", "Model reloads (SIGHUP or /admin/reload-model), by result.")
    text += "featureserver_model_reloads_total{result=\"success\"} \(models.reloadSuccesses.load(ordering: .relaxed))\n"
    text += "featureserver_model_reloads_total{result=\"failure\"} \(models.reloadFailures.load(ordering: .relaxed))\n"
  }

  private func drift(_ text: inout String) {
    guard let (_, report) = service.driftReport() else { return }
    header(
      &text, "feature_drift_psi", "gauge",
      "Population stability index of each model input over the drift window against training.")
    for feature in report.features {
      guard let psi = feature.psi else { continue }
      text += "featureserver_feature_drift_psi{feature=\"\(escape(feature.name))\"} \(format(psi))\n"
    }
    header(
      &text, "feature_drift_ks", "gauge",
      "Two-sample Kolmogorov-Smirnov statistic of each model input (binned) against training.")
    for feature in report.features {
      guard let ks = feature.ks else { continue }
      text += "featureserver_feature_drift_ks{feature=\"\(escape(feature.name))\"} \(format(ks))\n"
    }
    header(&text, "feature_drift_share", "gauge", "Fraction of model inputs whose PSI is above 0.25.")
    text += "featureserver_feature_drift_share \(format(report.driftShare))\n"
    header(&text, "feature_drift_samples", "gauge", "Model input vectors counted in the drift window.")
    text += "featureserver_feature_drift_samples \(report.samples)\n"
    header(&text, "feature_drift_window_seconds", "gauge", "Length of the drift window.")
    text += "featureserver_feature_drift_window_seconds \(format(report.window))\n"
  }

  /// A label value with `\`, `"` and newlines escaped.
  private func escape(_ value: String) -> String {
    value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
      .replacingOccurrences(of: "\n", with: "\\n")
  }

  private func process(_ text: inout String) {
    header(&text, "build_info", "gauge", "Build information; the value is always 1.")
    text +=
      "featureserver_build_info{version=\"\(service.configuration.version)\",registry=\"\(service.registry.project)\"} 1\n"
    let process = ProcessStatistics.read()
    text += "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
    text += "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes \(process.residentBytes)\n"
    text += "# HELP process_open_fds Number of open file descriptors.\n"
    text += "# TYPE process_open_fds gauge\nprocess_open_fds \(process.openFileDescriptors)\n"
    text += "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n"
    text += "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total \(format(process.cpuSeconds))\n"
    text += "# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.\n"
    text += "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds \(format(process.startTime))\n"
  }

  private func format(_ value: Double) -> String {
    if value == value.rounded() && abs(value) < 1e15 { return String(Int64(value)) }
    return String(value)
  }
}

/// The process's own numbers, from /proc and getrusage.
struct ProcessStatistics {
  var residentBytes = 0
  var openFileDescriptors = 0
  var cpuSeconds = 0.0
  var startTime = 0.0

  static let processStart = Date().timeIntervalSince1970

  static func read() -> ProcessStatistics {
    var statistics = ProcessStatistics()
    if let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) {
      let fields = statm.split(separator: " ")
      if fields.count > 1, let pages = Int(fields[1]) {
        statistics.residentBytes = pages * Int(sysconf(Int32(_SC_PAGESIZE)))
      }
    }
    statistics.openFileDescriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? 0
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    statistics.cpuSeconds =
      Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6 + Double(usage.ru_stime.tv_sec)
      + Double(usage.ru_stime.tv_usec) / 1e6
    statistics.startTime = processStart
    return statistics
  }
}
