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
  var batchSize = Loader.Options().batchSize

  @Option(help: "Batches on the wire at once (the loader reads ahead while Redis writes).")
  var inFlightBatches = Loader.Options().inFlightBatches

  @Argument(help: "CSV (.csv) or JSON-lines (.jsonl) files.")
  var files: [String]

  func validate() throws {
    var options = Loader.Options()
    options.batchSize = batchSize
    options.inFlightBatches = inFlightBatches
    do {
      try options.validate()
    } catch {
      throw ValidationError("--\(error)")
    }
  }

  /// Rows can be written: a live connection, and on a cluster a known topology whose every slot
  /// has a healthy primary that the loader's loop has a live connection to (rows go to every
  /// node; the first connection up is not enough, a row for another node would fail at once).
  static func canWrite(_ statistics: RedisPoolStatistics) -> Bool {
    guard statistics.connectionsUp > 0 else { return false }
    guard let cluster = statistics.cluster else { return true }
    guard let topology = cluster.topology, topology.slotsServed == ClusterSlot.count else { return false }
    return cluster.unreachableNodesByLoop.allSatisfy(\.isEmpty)
  }

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
    while !Self.canWrite(pool.statisticsSnapshot()) && Date() < deadline { usleep(10_000) }
    guard Self.canWrite(pool.statisticsSnapshot()) else {
      throw ValidationError("cannot connect to \(configuration.redactedURL)")
    }
    let loader = Loader(registry: registry, pool: pool)
    var options = Loader.Options()
    options.strict = strict
    options.shiftTimestampsToNow = shiftTimestampsToNow
    options.batchSize = batchSize
    options.inFlightBatches = inFlightBatches
    let terminal = isatty(2) == 1
    var bad = 0
    for file in files {
      let report: Loader.Report
      let started = Date()
      var lastTenth = 0
      do {
        report = try loader.load(entity: entity, path: file, options: options) { progress in
          let percent = progress.totalBytes > 0 ? 100 * progress.bytesRead / progress.totalBytes : 100
          if terminal {
            writeProgress("\r\(file): \(progress.rowsWritten) rows written, \(percent)% read")
          } else if percent / 10 > lastTenth && percent < 100 {  // a log: a line per tenth, the summary last
            lastTenth = percent / 10
            writeProgress("\(file): \(progress.rowsWritten) rows written, \(percent)% read\n")
          }
        }
      } catch {
        if terminal { writeProgress("\n") }
        throw ValidationError("\(error)")
      }
      if terminal { writeProgress("\n") }
      for row in report.badRows { writeDiagnostic("bad row \(row)") }
      if report.badRowCount > report.badRows.count {
        writeDiagnostic("... and \(report.badRowCount - report.badRows.count) more bad rows")
      }
      bad += report.badRowCount
      let seconds = max(0.001, Date().timeIntervalSince(started))
      print(
        "\(file): loaded \(report.loaded) \(entity) rows, \(report.badRowCount) bad, in \(String(format: "%.1f", seconds)) s (\(Int(Double(report.loaded) / seconds)) rows/s)"
      )
    }
    group.stop()
    if bad > 0 { throw ExitCode(3) }
  }

  private func writeProgress(_ text: String) {
    text.withCString { _ = write(2, $0, strlen($0)) }
  }
}
