import Foundation
import TestSupport
import XCTest

/// The real `featureserver` over a real 3 + 3 Redis Cluster: every route answers as it does on
/// one Redis holding the same data, a 2 000-slot resharding under load fails no request, replica
/// reads keep reads off the primaries, and a killed primary costs errors only until the cluster
/// has failed it over.
final class ClusterServingTests: XCTestCase {
  static let entities = [
    ("customer", "customers", 5000), ("account", "accounts", 6000), ("merchant", "merchants", 800),
  ]

  var featureserver: String { productsDirectory.appendingPathComponent("featureserver").path }
  var loadgen: String { productsDirectory.appendingPathComponent("loadgen").path }

  /// Loads the bundled data (event times as they are, so two stores hold the same bytes).
  func loadBundledData(into url: String) throws {
    for (entity, file, _) in Self.entities {
      let result = try runCommand(
        featureserver,
        ["load", "--redis-url", url, "--entity", entity, packageRoot.appendingPathComponent("data/\(file).csv").path])
      XCTAssertEqual(result.status, 0, result.output)
    }
  }

  func serve(_ url: String, _ extra: [String] = []) throws -> ServerProcess {
    try ServerProcess(arguments: ["--redis-url", url, "--threads", "2", "--cache-ttl", "0"] + extra)
  }

  func get(_ server: ServerProcess, _ path: String) -> String {
    server.request("GET \(path) HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
  }

  func post(_ server: ServerProcess, _ path: String, _ body: String) -> String {
    server.request(
      "POST \(path) HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
    )
  }

  /// Status line and body; the headers carry a date.
  func essence(_ response: String) -> String {
    let parts = response.components(separatedBy: "\r\n\r\n")
    return (parts.first?.components(separatedBy: "\r\n").first ?? "") + "\n" + parts.dropFirst().joined()
  }

  func metric(_ server: ServerProcess, _ name: String) -> Int {
    let text = get(server, "/metrics")
    let line = text.split(separator: "\n").first { $0.hasPrefix(name + " ") }
    return line.flatMap { Int($0.split(separator: " ").last ?? "") } ?? 0
  }

  func testEveryRouteAnswersAsOnASingleRedisWithTheSameData() throws {
    let cluster = try RedisClusterProcess()
    let single = try RedisServerProcess()
    try loadBundledData(into: cluster.url)
    try loadBundledData(into: "redis://127.0.0.1:\(single.port)")
    let onCluster = try serve(cluster.url)
    let onSingle = try serve("redis://127.0.0.1:\(single.port)")
    defer {
      onCluster.stop()
      onSingle.stop()
    }
    var generator = SystemRandomNumberGenerator()
    for (entity, _, count) in Self.entities {
      for _ in 0..<60 {
        let id = Int.random(in: 1...(count + 20), using: &generator)  // some ids are missing
        let path = "/features/\(entity)/\(id)"
        XCTAssertEqual(essence(get(onCluster, path)), essence(get(onSingle, path)), path)
      }
    }
    let batch = (0..<40).map { #"{"entity":"customer","id":"\#($0 * 131 % 5100)"}"# }.joined(separator: ",")
    XCTAssertEqual(
      essence(post(onCluster, "/features", "[\(batch)]")), essence(post(onSingle, "/features", "[\(batch)]")))
    for customer in [1, 42, 4999, 5050] {
      let body =
        #"{"transaction_id":"t\#(customer)","customer_id":\#(customer),"account_id":\#(customer + 7),"merchant_id":\#(customer % 800 + 1),"amount":120.5,"merchant_category":"fuel","device_known":true,"location_match":false,"transactions_last_hour":3}"#
      // /predict reports its own latency: compare everything else.
      let strip = { (text: String) in
        text.replacingOccurrences(of: #""latency_ms":\{[^}]*\}"#, with: "", options: .regularExpression)
      }
      XCTAssertEqual(
        strip(essence(post(onCluster, "/predict", body))), strip(essence(post(onSingle, "/predict", body))))
    }
    XCTAssertTrue(get(onCluster, "/ready").contains(#""status":"ready""#))
    let metrics = get(onCluster, "/metrics")
    XCTAssertTrue(metrics.contains("featureserver_redis_cluster_slots_served 16384"), metrics)
    XCTAssertTrue(metrics.contains(#"featureserver_redis_cluster_nodes{role="primary",health="ok"} 3"#))
    // The dashboard's and the alerts' cluster metrics (which OperationsTests cannot see on a
    // single Redis) are all exported.
    let sources = try ["dashboards/grafana/featureserver.json", "dashboards/prometheus/alerts.yml"].map {
      try String(contentsOf: packageRoot.appendingPathComponent($0), encoding: .utf8)
    }.joined()
    let named = try NSRegularExpression(pattern: "featureserver_redis_cluster_[a-z_]+")
    let names = Set(
      named.matches(in: sources, range: NSRange(sources.startIndex..., in: sources)).compactMap {
        Range($0.range, in: sources).map { String(sources[$0]) }
      })
    XCTAssertGreaterThanOrEqual(names.count, 4)
    for name in names {
      XCTAssertTrue(metrics.contains("\n\(name){") || metrics.contains("\n\(name) "), "\(name) is not exported")
    }
  }

  func testFeastWritesAndReadsOnAClusterAnswerAsOnASingleRedis() throws {
    let cluster = try RedisClusterProcess()
    let single = try RedisServerProcess()
    let seeds = cluster.nodes.prefix(2).map { "127.0.0.1:\($0.port)" }.joined(separator: ",")
    let onCluster = try ServerProcess(arguments: [
      "--threads", "2",
      "--feast-repo",
      try FeastTestRepository.writeRepository(
        connectionString: seeds + ",skip_full_coverage_check=true", redisType: "redis_cluster", name: "cluster-\(seeds)"
      ).path,
    ])
    let onSingle = try ServerProcess(arguments: [
      "--threads", "2",
      "--feast-repo",
      try FeastTestRepository.writeRepository(
        connectionString: "127.0.0.1:\(single.port)", name: "single-\(single.port)"
      )
      .path,
    ])
    defer {
      onCluster.stop()
      onSingle.stop()
    }
    let cards = Array(1...120)
    let df = """
      {"card_id": [\(cards.map(String.init).joined(separator: ","))],
       "amount": [\(cards.map { "\($0).25" }.joined(separator: ","))],
       "country": [\(cards.map { "\"C\($0 % 7)\"" }.joined(separator: ","))],
       "counts": [\(cards.map { "[\($0), 2]" }.joined(separator: ","))],
       "event_timestamp": [\(cards.map { _ in "\"2026-11-30T10:00:00Z\"" }.joined(separator: ","))]}
      """
    let write = #"{"feature_view_name": "card_stats", "df": \#(df)}"#
    let push =
      #"{"push_source_name": "card_push", "to": "online", "df": {"card_id": [7], "amount": [99.5], "country": ["PT"], "counts": [[3]], "event_timestamp": ["2026-11-30T12:00:00Z"]}}"#
    for server in [onCluster, onSingle] {
      XCTAssertTrue(post(server, "/write-to-online-store", write).hasPrefix("HTTP/1.1 200"))
      XCTAssertTrue(post(server, "/push", push).hasPrefix("HTTP/1.1 200"))
    }
    // Rows on every shard (and unknown cards), in one request and one by one.
    let everyCard =
      #"{"features": ["card_stats:amount", "card_stats:country", "card_stats:counts"], "entities": {"card_id": [\#((cards + [500, 501]).map(String.init).joined(separator: ","))]}}"#
    let clusterAnswer = essence(post(onCluster, "/get-online-features", everyCard))
    XCTAssertTrue(clusterAnswer.hasPrefix("HTTP/1.1 200"), clusterAnswer)
    XCTAssertTrue(clusterAnswer.contains("99.5"), "the push landed")
    XCTAssertEqual(clusterAnswer, essence(post(onSingle, "/get-online-features", everyCard)))
    for card in [1, 7, 64, 120, 999] {
      let one = #"{"features": ["card_stats:amount"], "entities": {"card_id": [\#(card)]}}"#
      XCTAssertEqual(
        essence(post(onCluster, "/get-online-features", one)), essence(post(onSingle, "/get-online-features", one)))
    }
  }

  /// Runs the fraud scenario against `server` for `seconds`, in the background.
  func startLoad(_ server: ServerProcess, seconds: Int, csv: String? = nil) throws -> (Process, Pipe) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: loadgen)
    process.arguments =
      [
        "--host", "http://127.0.0.1:\(server.port)", "-u", "16", "-r", "100", "-t", "\(seconds)s", "--threads", "1",
        "--json", "--quiet",
      ] + (csv.map { ["--csv", $0] } ?? [])
    let output = Pipe()
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    try process.run()
    return (process, output)
  }

  func finishLoad(_ load: (Process, Pipe)) -> [String: Any] {
    let data = load.1.fileHandleForReading.readDataToEndOfFile()
    load.0.waitUntilExit()
    return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
  }

  func testResharding2000SlotsUnderLoadFailsNoRequest() throws {
    let cluster = try RedisClusterProcess()
    try loadBundledData(into: cluster.url)
    let server = try serve(cluster.url)
    defer { server.stop() }
    let load = try startLoad(server, seconds: 12)
    sleep(2)
    let primaries = try cluster.primaries()
    let from = try cluster.cli(primaries[0], ["CLUSTER", "MYID"]).trimmingCharacters(in: .whitespacesAndNewlines)
    let to = try cluster.cli(primaries[1], ["CLUSTER", "MYID"]).trimmingCharacters(in: .whitespacesAndNewlines)
    let reshard = try runCommand(
      "/usr/bin/redis-cli",
      [
        "--cluster", "reshard", "127.0.0.1:\(primaries[0].port)", "--cluster-from", from, "--cluster-to", to,
        "--cluster-slots", "2000", "--cluster-yes",
      ], timeout: 60)
    XCTAssertEqual(reshard.status, 0, String(reshard.output.suffix(500)))
    let summary = finishLoad(load)
    let total = summary["total"] as? [String: Any] ?? [:]
    XCTAssertGreaterThan(total["requests"] as? Int ?? 0, 1000, "\(summary)")
    XCTAssertEqual(total["failures"] as? Int, 0, "requests failed while slots moved: \(summary["failures"] ?? "")")
    let moved = metric(server, #"featureserver_redis_cluster_redirects_total{kind="moved"}"#)
    let asked = metric(server, #"featureserver_redis_cluster_redirects_total{kind="ask"}"#)
    XCTAssertGreaterThan(moved + asked, 0, "the resharding was absorbed by following redirects")
    XCTAssertEqual(metric(server, "featureserver_redis_cluster_slots_served"), 16384)
  }

  func testReplicaReadsKeepHashReadsOffThePrimariesWithTheSameAnswers() throws {
    let cluster = try RedisClusterProcess()
    try loadBundledData(into: cluster.url)
    let onReplicas = try serve(cluster.url, ["--redis-read-from", "replica"])
    let onPrimaries = try serve(cluster.url)
    defer {
      onReplicas.stop()
      onPrimaries.stop()
    }
    // The replicas have the data once their link is up and the offsets match.
    XCTAssertNotNil(
      waitUntil(timeout: 10) {
        (try? cluster.replicas())?.allSatisfy {
          let info = (try? cluster.cli($0, ["INFO", "replication"])) ?? ""
          return info.contains("master_link_status:up") && !info.contains("master_sync_in_progress:1")
        } == true
      })
    sleep(1)
    let paths = (1...150).map { "/features/\(["customer", "account", "merchant"][$0 % 3])/\($0 * 5)" }
    let expected = paths.map { essence(get(onPrimaries, $0)) }
    for node in cluster.nodes where node.isRunning { try cluster.cli(node, ["CONFIG", "RESETSTAT"]) }
    XCTAssertEqual(paths.map { essence(get(onReplicas, $0)) }, expected)
    let body =
      #"{"transaction_id":"r1","customer_id":42,"account_id":7,"merchant_id":3,"amount":12.5,"merchant_category":"fuel","device_known":true,"location_match":true,"transactions_last_hour":2}"#
    XCTAssertTrue(post(onReplicas, "/predict", body).hasPrefix("HTTP/1.1 200"))
    for primary in try cluster.primaries() {
      let stats = try cluster.cli(primary, ["INFO", "commandstats"])
      XCTAssertFalse(stats.contains("cmdstat_hgetall") || stats.contains("cmdstat_hmget"), "\(primary.port): \(stats)")
    }
    let served = try cluster.replicas().filter {
      try cluster.cli($0, ["INFO", "commandstats"]).contains("cmdstat_hgetall")
    }
    XCTAssertEqual(served.count, 3, "each shard's replica served reads")
  }

  func testAKilledPrimaryCostsErrorsOnlyUntilItsReplicaTakesOver() throws {
    let cluster = try RedisClusterProcess()
    try loadBundledData(into: cluster.url)
    XCTAssertTrue(cluster.waitUntilHealthy(timeout: 20), "replicas synced before the kill")
    let server = try serve(cluster.url)
    defer { server.stop() }
    XCTAssertNotNil(
      waitUntil(timeout: 10) { self.get(server, "/metrics").contains(#"cluster_nodes{role="replica",health="ok"} 3"#) })
    // A prober timestamps every answer; loadgen keeps the server busy meanwhile.
    let prober = Prober(port: server.port)
    prober.start()
    let load = try startLoad(server, seconds: 14)
    sleep(2)
    let before = processFootprint(server.pid)
    let victim = try cluster.primary(ofKey: "fs:customer:42")
    let killedAt = Date()
    cluster.kill(victim)
    sleep(10)
    let summary = finishLoad(load)
    prober.stop()
    let after = processFootprint(server.pid)
    // The window is the issue's bound (node timeout + 2 s), or the cluster's own failover time
    // (from its logs) + 0.5 s when Redis itself took longer on this machine: the part that is
    // ours is the time from the cluster being whole again to our last error.
    let clusterBack = try XCTUnwrap(cluster.lastStateOK(after: killedAt), "the cluster never failed over")
    let window = max(Double(cluster.nodeTimeout) / 1000 + 2, clusterBack.timeIntervalSince(killedAt) + 0.5)
    let failures = prober.failures
    XCTAssertFalse(failures.isEmpty, "the dead primary's keys failed for a while (or the prober never hit it)")
    if let last = failures.last {
      XCTAssertLessThanOrEqual(
        last.timeIntervalSince(killedAt), window,
        "errors outside the failover window (\(failures.count) failures, the last: \(prober.lastFailure); late: \(prober.failureTexts.filter { $0.0 > killedAt.addingTimeInterval(window) }.map { ($0.0.timeIntervalSince(killedAt), $0.1) }.prefix(20)); the cluster was whole again after \(clusterBack.timeIntervalSince(killedAt)) s); server log: \(server.log.split(separator: "\n").filter { !$0.contains("connection problem") && !$0.contains("is back") }.suffix(12)); loadgen: \(summary["failures"] ?? "")"
      )
    }
    let settled = killedAt.addingTimeInterval(window)
    XCTAssertGreaterThan(prober.successes(after: settled), 100, "answers after the failover")
    // loadgen agrees: no failed request in the seconds after the window.
    let history = summary["history"] as? [[String: Any]] ?? []
    let late = history.filter {
      ($0["timestamp"] as? Double ?? 0) > settled.timeIntervalSince1970 + 1 && ($0["failures_per_s"] as? Int ?? 0) > 0
    }
    XCTAssertTrue(late.isEmpty, "failures after the failover window: \(late)")
    XCTAssertTrue(get(server, "/ready").contains(#""status":"ready""#), get(server, "/ready"))
    XCTAssertLessThanOrEqual(after.fds, before.fds + 2, "file descriptors stay flat")
    XCTAssertLessThan(after.rssKB - before.rssKB, 30_000, "RSS stays flat")
  }

  func testTwoReplicasBehindAnNginxUpstreamShareTheLoad() throws {
    guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/nginx") else { throw XCTSkip("nginx not installed") }
    let redis = try RedisServerProcess()
    try loadBundledData(into: "redis://127.0.0.1:\(redis.port)")
    let first = try serve("redis://127.0.0.1:\(redis.port)", ["--threads", "1"])
    let second = try serve("redis://127.0.0.1:\(redis.port)", ["--threads", "1"])
    defer {
      first.stop()
      second.stop()
    }
    let nginx = try NginxProcess(
      upstream: """
        upstream featureserver {
          server 127.0.0.1:\(first.port);
          server 127.0.0.1:\(second.port);
          keepalive 32;
        }
        """)
    defer { nginx.stop() }
    for id in 1...100 {
      let connection = try RawConnection(port: nginx.port)
      connection.send("GET /features/customer/\(id) HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
      let response = connection.readResponses(1).first ?? ""
      XCTAssertTrue(response.hasPrefix("HTTP/1.1 200"), String(response.prefix(200)))
    }
    let counted = [first, second].map { server in
      get(server, "/metrics").split(separator: "\n").filter {
        $0.hasPrefix(#"featureserver_http_requests_total{route="/features/:entity/:id",method="GET",status="200"}"#)
      }.compactMap { Int($0.split(separator: " ").last ?? "") }.reduce(0, +)
    }
    XCTAssertEqual(counted.reduce(0, +), 100, "\(counted)")
    XCTAssertTrue(counted.allSatisfy { $0 >= 30 }, "round robin over both replicas: \(counted)")
  }
}

/// GET /features for a key of every shard, one request after another, timestamping failures.
final class Prober: @unchecked Sendable {
  private let port: Int
  private let lock = NSLock()
  private var stopped = false
  private var failed: [Date] = []
  /// The last failed answer, to say why.
  private(set) var lastFailure = ""
  private(set) var failureTexts: [(Date, String)] = []
  private var succeeded: [Date] = []
  private let done = DispatchSemaphore(value: 0)

  init(port: Int) { self.port = port }

  func start() {
    Thread { [self] in
      var id = 0
      while !lock.withLock({ stopped }) {
        id = id % 5000 + 1
        let response: String
        let sent = Date()
        do {
          let connection = try RawConnection(port: port, receiveTimeout: 2)
          connection.send("GET /features/customer/\(id) HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
          response =
            connection.readResponses(1).first ?? "no answer after \(Date().timeIntervalSince(sent)) s (errno \(errno))"
        } catch {
          response = "cannot connect: \(error)"
        }
        let now = Date()
        lock.withLock {
          if response.hasPrefix("HTTP/1.1 200") {
            succeeded.append(now)
          } else {
            failed.append(now)
            lastFailure = "customer \(id): " + String(response.suffix(300))
            failureTexts.append((now, String(response.prefix(40))))
          }
        }
        usleep(2_000)
      }
      done.signal()
    }.start()
  }

  func stop() {
    lock.withLock { stopped = true }
    _ = done.wait(timeout: .now() + 5)
  }

  var failures: [Date] { lock.withLock { failed } }
  func successes(after date: Date) -> Int { lock.withLock { succeeded.filter { $0 > date }.count } }
}

/// Open file descriptors and resident memory of a process.
func processFootprint(_ pid: Int32) -> (fds: Int, rssKB: Int) {
  let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1
  let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
  let rss =
    status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }
    .flatMap { Int($0.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") } ?? 0
  return (fds, rss)
}
