import Foundation
import HTTPCore
import Reactor
import RedisPool
import TestSupport
import XCTest

@testable import FeatureServer

/// The feature server on a free port, over a real redis-server, for integration tests.
final class FeatureServerHarness {
  let redis: RedisServerProcess
  let group: EventLoopGroup
  let pool: RedisPool
  let service: FeatureService
  let server: HTTPServer
  var port: Int { server.port }

  /// `modelPath` serves /predict with that model; `feast` (given this harness's Redis port)
  /// serves Feast's API for that repository.
  init(
    threads: Int = 2, poolSize: Int = 8, modelPath: String? = nil,
    feast: ((Int) throws -> FeastServing)? = nil,
    configureRedis: (inout RedisConfiguration) -> Void = { _ in },
    configure: (inout FeatureServiceConfiguration) -> Void = { _ in }
  ) throws {
    redis = try RedisServerProcess()
    let registry = try RegistryLoader.load(path: RegistryLoader.bundledPath)
    var redisConfiguration = try RedisConfiguration(url: "redis://127.0.0.1:\(redis.port)")
    redisConfiguration.poolSize = poolSize
    redisConfiguration.reconnectMaxDelay = 0.2
    configureRedis(&redisConfiguration)
    group = try EventLoopGroup(threads: threads)
    try group.start()
    pool = try RedisPool(configuration: redisConfiguration, group: group)
    pool.start()
    var configuration = FeatureServiceConfiguration()
    configure(&configuration)
    let loops = group.loops
    let models = try modelPath.map { try ModelStore(path: $0, registry: registry, loops: loops) }
    service = FeatureService(
      registry: registry, pool: pool, configuration: configuration, models: models, feast: try feast?(redis.port))
    let router = Router()
    service.install(on: router)
    var serverConfiguration = ServerConfiguration()
    serverConfiguration.host = "127.0.0.1"
    serverConfiguration.port = 0
    server = HTTPServer(configuration: serverConfiguration, group: group, router: router)
    service.server = server
    try service.startStreaming()
    try server.start()
    let pool = self.pool
    XCTAssertNotNil(waitUntil(timeout: 5) { pool.statisticsSnapshot().connectionsUp == poolSize })
  }

  func stop() {
    let done = DispatchSemaphore(value: 0)
    server.shutdown { done.signal() }
    _ = done.wait(timeout: .now() + 5)
    service.stopStreaming()
    pool.close()
    usleep(50_000)
    group.stop()
    group.wait()
    redis.kill(signal: SIGKILL)
  }

  struct Reply {
    var status: Int
    var headers: [String: String]
    var body: String
    var json: [String: Any] {
      (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:]
    }
  }

  func get(_ path: String) throws -> Reply {
    try exchange("GET \(path) HTTP/1.1\r\nHost: test\r\n\r\n")
  }

  func post(_ path: String, _ body: String, headers: String = "") throws -> Reply {
    try exchange(
      "POST \(path) HTTP/1.1\r\nHost: test\r\n\(headers)Content-Length: \(body.utf8.count)\r\n\r\n\(body)")
  }

  /// Loads the bundled FinServe CSVs into this harness's Redis.
  func loadBundledData() throws {
    let loader = Loader(registry: service.registry, pool: pool)
    var options = Loader.Options()
    options.shiftTimestampsToNow = true
    for (file, entity) in [("customers", "customer"), ("accounts", "account"), ("merchants", "merchant")] {
      _ = try loader.load(
        entity: entity, path: packageRoot.appendingPathComponent("data/\(file).csv").path, options: options)
    }
  }

  private func exchange(_ request: String) throws -> Reply {
    let connection = try RawConnection(port: port)
    connection.send(request)
    guard let response = connection.readResponses(1).first else { throw NSError(domain: "no response", code: 1) }
    return FeatureServerHarness.parse(response)
  }

  static func parse(_ response: String) -> Reply {
    let parts = response.components(separatedBy: "\r\n\r\n")
    let lines = parts[0].components(separatedBy: "\r\n")
    let status = Int(lines[0].split(separator: " ")[1]) ?? 0
    var headers: [String: String] = [:]
    for line in lines.dropFirst() {
      guard let colon = line.firstIndex(of: ":") else { continue }
      headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    }
    return Reply(status: status, headers: headers, body: parts.dropFirst().joined(separator: "\r\n\r\n"))
  }

  /// How many HGETALL commands Redis has run (INFO commandstats).
  func hgetallCalls() throws -> Int { try commandCalls("hgetall") }

  /// How many `name` commands (lower case) Redis has run (INFO commandstats).
  func commandCalls(_ name: String) throws -> Int {
    let info = try redis.cli(["INFO", "commandstats"])
    guard let line = info.split(whereSeparator: \.isNewline).first(where: { $0.hasPrefix("cmdstat_\(name):") }),
      let calls = line.split(separator: ",").first?.split(separator: "=").last, let value = Int(calls)
    else { return 0 }
    return value
  }

  /// Runs one binary-safe command through the pool (bytes redis-cli cannot pass, such as NUL).
  @discardableResult
  func command(_ arguments: [[UInt8]]) -> RedisResult {
    let loop = group.loops[0]
    let done = DispatchSemaphore(value: 0)
    let result = Collected<RedisResult>()
    let pool = self.pool
    loop.execute {
      pool.on(loop).send(RedisCommand(arguments: arguments)) {
        result.append($0)
        done.signal()
      }
    }
    _ = done.wait(timeout: .now() + 5)
    return result.values.first ?? .failure(.timeout)
  }

  /// Writes a customer hash with `redis-cli`.
  func writeCustomer(_ id: Int, age: String = "41", timestamp: Int = Int(Date().timeIntervalSince1970)) throws {
    try redis.cli([
      "HSET", "fs:customer:\(id)", "age", age, "tenure_days", "1200", "avg_txn_amount_30d", "57.25",
      "std_txn_amount_30d", "31.5", "home_country", "US", "is_premium", "true", "_ts", "\(timestamp)",
    ])
  }
}
