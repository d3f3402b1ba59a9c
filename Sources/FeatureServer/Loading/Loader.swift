import Foundation
import HTTPCore
import Reactor
import RedisPool
import Synchronization

/// Writes offline feature rows into Redis: the materialisation step. Reads CSV (header row) or
/// JSON lines whose fields are the id column (`<entity>_id`), an optional `event_timestamp` and
/// the registry's features; validates each value; and replaces every instance whole (DEL +
/// HSET in one script), pipelined over the pool, so a reader never sees half a row and a re-run
/// leaves the same state.
///
/// On one Redis the rows go through a blocking connection of the loader's own, as MULTI blocks
/// of DEL + HSET per row encoded straight into one buffer (`DirectRowWriter`): the loader's CPU,
/// not Redis's, limits a load, and this spends least of it (see BENCHMARKS.md). On a cluster
/// each row is one script call on its key, routed by the pool (`PoolRowWriter`).
///
/// A file of any size loads in bounded memory: it is read in chunks, each row is written as soon
/// as it is read (`inFlightBatches` batches of `batchSize` rows on the wire at once), and only
/// the first `maxReportedBadRows` bad rows are kept for the report. `--strict` and
/// `--shift-timestamps-to-now` read the file twice: once to check every row (or find the newest
/// time) before anything is written.
public final class Loader {
  /// A row that was not loaded, with where it is.
  public struct BadRow: Error, Sendable, CustomStringConvertible {
    public let file: String
    public let line: Int
    public let reason: String
    public var description: String { "\(file):\(line): \(reason)" }
  }

  /// What a load did.
  public struct Report: Sendable {
    public var loaded = 0
    /// The first bad rows (at most `Options.maxReportedBadRows`).
    public var badRows: [BadRow] = []
    /// Every bad row, reported or not.
    public var badRowCount = 0
  }

  /// How far a load has come.
  public struct Progress: Sendable {
    public var rowsWritten: Int
    public var bytesRead: Int
    public var totalBytes: Int
  }

  public struct Options: Sendable {
    /// Stop at the first bad row instead of reporting it and going on; nothing is written
    /// unless every row is good.
    public var strict = false
    /// Move every event time by the same amount so the newest is now (for demos on old data).
    public var shiftTimestampsToNow = false
    /// Rows written per pipelined batch.
    public var batchSize = 256
    /// Batches on the wire at once (the loader reads ahead while Redis writes).
    public var inFlightBatches = 8
    /// Rows per MULTI block on a single Redis (Redis runs nothing else meanwhile, so a few
    /// dozen: a reader waits at most a fraction of a millisecond).
    public var rowsPerTransaction = 32
    /// Bad rows kept for the report; the rest are only counted.
    public var maxReportedBadRows = 1000
    public init() {}

    /// Refuses settings that cannot work, naming the flag (each bounds a buffer).
    public func validate() throws {
      try ConfigurationError.check("batch-size", batchSize, in: 1...100_000)
      try ConfigurationError.check("in-flight-batches", inFlightBatches, in: 1...1024)
      try ConfigurationError.check("rows-per-transaction", rowsPerTransaction, in: 1...10_000)
      try ConfigurationError.check("max-reported-bad-rows", maxReportedBadRows, in: 0...1_000_000)
    }
  }

  let registry: Registry
  let pool: RedisPool

  public init(registry: Registry, pool: RedisPool) {
    self.registry = registry
    self.pool = pool
  }

  /// Loads `path` (CSV, or JSON lines when it ends in `.jsonl`/`.ndjson`) for `entityName`.
  /// `progress` is called now and then (and once at the end).
  public func load(
    entity entityName: String, path: String, options: Options, progress: (Progress) -> Void = { _ in }
  ) throws -> Report {
    guard let entity = registry.entity(named: entityName) else {
      throw LoaderError(
        "no entity '\(entityName)' in the registry (known: \(registry.entities.map(\.name).joined(separator: ", ")))")
    }
    do {
      try options.validate()
    } catch {
      throw LoaderError("\(error)")
    }
    var rows = LoaderRows(registry: registry, entity: entity, file: path)
    let isJSONLines = path.hasSuffix(".jsonl") || path.hasSuffix(".ndjson")
    let totalBytes = FileChunks.size(of: path)
    if options.strict || options.shiftTimestampsToNow {
      var newest: Int64? = nil
      try rows.forEach(isJSONLines: isJSONLines) { row in
        switch row {
        case .success(let row): if let time = row.timestamp { newest = max(newest ?? time, time) }
        case .failure(let bad): if options.strict { throw LoaderError(bad.description) }
        }
      }
      if options.shiftTimestampsToNow, let newest {
        // Both are within EventTime.validRange, so neither this nor `timestamp + shift` overflows.
        rows.shift = Int64(time(nil)) - newest
      }
    }
    var report = Report()
    func bad(_ row: BadRow) throws {
      if options.strict { throw LoaderError(row.description) }
      report.badRowCount += 1
      if report.badRows.count < options.maxReportedBadRows { report.badRows.append(row) }
    }
    let writer: RowWriter =
      pool.configuration.isCluster
      ? PoolRowWriter(pool: pool, batchSize: options.batchSize, inFlight: options.inFlightBatches)
      : try DirectRowWriter(
        configuration: pool.configuration, batchSize: options.batchSize, inFlight: options.inFlightBatches,
        rowsPerTransaction: options.rowsPerTransaction)
    let chunkDone = { (bytesRead: Int) in
      progress(Progress(rowsWritten: writer.written, bytesRead: bytesRead, totalBytes: totalBytes))
    }
    try rows.forEach(isJSONLines: isJSONLines, chunkDone: chunkDone) { parsed in
      switch parsed {
      case .failure(let row): try bad(row)
      case .success(let row): try writer.add(row)
      }
    }
    try writer.finish()
    report.loaded = writer.written
    progress(Progress(rowsWritten: writer.written, bytesRead: totalBytes, totalBytes: totalBytes))
    return report
  }

  /// Replaces a row in one step on a cluster: the one key it names lets the cluster route it (a
  /// MULTI block's commands carry no slot of their own).
  static let replaceRowScript = Array(
    "redis.call('DEL', KEYS[1]) if #ARGV == 0 then return 0 end return redis.call('HSET', KEYS[1], unpack(ARGV))".utf8)
}

/// A load that cannot go on.
public struct LoaderError: Error, CustomStringConvertible {
  public let description: String
  init(_ description: String) { self.description = description }
}

/// A JSON value that a feature cell may hold, as the text the registry's types parse.
enum JSONScalar: Decodable {
  case value(String)
  case null

  init(from decoder: Decoder) throws {
    let container = try decoder.singleValueContainer()
    if container.decodeNil() {
      self = .null
    } else if let flag = try? container.decode(Bool.self) {
      self = .value(flag ? "true" : "false")
    } else if let integer = try? container.decode(Int64.self) {
      self = .value(String(integer))
    } else if let number = try? container.decode(Double.self) {
      self = .value(String(number))
    } else {
      self = .value(try container.decode(String.self))
    }
  }

  var text: String? {
    if case .value(let text) = self { return text }
    return nil
  }
}
