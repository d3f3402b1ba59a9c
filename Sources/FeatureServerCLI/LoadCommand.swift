import ArgumentParser
import FeatureServer
import Foundation
import HTTPCore
import Reactor
import RedisPool

/// `featureserver load`: writes CSV or JSON-lines feature rows into Redis.
struct LoadCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "load",
    abstract: "Load feature rows from CSV or JSON lines into Redis (offline-to-online materialisation).",
    discussion: """
      Columns (or JSON fields): <entity>_id, an optional event_timestamp (epoch seconds), and any of
      the entity's features. Bad rows are reported with file and line and skipped (--strict stops).
      Each row replaces its instance atomically (MULTI/DEL/HSET/EXEC), so loading twice is harmless.
      """)

  @Option(help: "redis://[user:password@]host:port/db or unix:///path.sock[?db=N].")
  var redisURL: String

  @Option(help: "The entity the rows belong to (customer, account, merchant...).")
  var entity: String

  @Option(help: "Registry YAML file. Default: the bundled FinServe registry.")
  var registry: String?

  @Flag(help: "Stop at the first bad row.")
  var strict = false

  @Flag(help: "Move all event times so the newest is now (for demos on old data).")
  var shiftTimestampsToNow = false

  @Option(help: "Rows per pipelined batch.")
  var batchSize = 256

  @Argument(help: "CSV (.csv) or JSON-lines (.jsonl) files.")
  var files: [String]

  func run() throws {
    let registry: Registry
    do {
      registry = try RegistryLoader.load(path: self.registry ?? RegistryLoader.bundledPath)
    } catch {
      throw ValidationError("invalid registry: \(error)")
    }
    var configuration = try RedisConfiguration(url: redisURL)
    configuration.poolSize = 1
    configuration.commandTimeout = 10
    configuration.stallTimeout = 30
    let group = try EventLoopGroup(threads: 1)
    try group.start()
    let pool = try RedisPool(configuration: configuration, group: group)
    pool.start()
    let deadline = Date().addingTimeInterval(5)
    while pool.statisticsSnapshot().connectionsUp == 0 && Date() < deadline { usleep(10_000) }
    guard pool.statisticsSnapshot().connectionsUp > 0 else {
      throw ValidationError("cannot connect to \(configuration.redactedURL)")
    }
    let loader = Loader(registry: registry, pool: pool)
    var options = Loader.Options()
    options.strict = strict
    options.shiftTimestampsToNow = shiftTimestampsToNow
    options.batchSize = max(1, batchSize)
    let showProgress = isatty(2) == 1
    var bad = 0
    for file in files {
      let report: Loader.Report
      do {
        report = try loader.load(entity: entity, path: file, options: options) { done, total in
          if showProgress { writeProgress("\r\(file): \(done)/\(total) rows") }
        }
      } catch {
        if showProgress { writeProgress("\n") }
        throw ValidationError("\(error)")
      }
      if showProgress { writeProgress("\n") }
      for row in report.badRows { writeDiagnostic("bad row \(row)") }
      bad += report.badRows.count
      print("\(file): loaded \(report.loaded) \(entity) rows, \(report.badRows.count) bad")
    }
    group.stop()
    if bad > 0 { throw ExitCode(3) }
  }

  private func writeProgress(_ text: String) {
    text.withCString { _ = write(2, $0, strlen($0)) }
  }
}
