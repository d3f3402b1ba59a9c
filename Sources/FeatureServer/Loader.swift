import Foundation
import HTTPCore
import RedisPool

/// Writes offline feature rows into Redis: the materialisation step. Reads CSV (header row) or
/// JSON lines whose fields are the id column (`<entity>_id`), an optional `event_timestamp` and
/// the registry's features; validates each value; writes every instance as one DEL + HSET script
/// on its key (a reader never sees half a row, a re-run leaves the same state, and a cluster
/// routes it by that key), pipelined over the pool.
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
    public var badRows: [BadRow] = []
  }

  public struct Options: Sendable {
    /// Stop at the first bad row instead of reporting it and going on.
    public var strict = false
    /// Move every event time by the same amount so the newest is now (for demos on old data).
    public var shiftTimestampsToNow = false
    /// Rows written per pipelined batch.
    public var batchSize = 256
    public init() {}
  }

  let registry: Registry
  let pool: RedisPool

  public init(registry: Registry, pool: RedisPool) {
    self.registry = registry
    self.pool = pool
  }

  /// Loads `path` (CSV, or JSON lines when it ends in `.jsonl`/`.ndjson`) for `entityName`.
  /// `progress` is called now and then with rows written so far.
  public func load(
    entity entityName: String, path: String, options: Options, progress: (Int, Int) -> Void = { _, _ in }
  ) throws -> Report {
    guard let entity = registry.entity(named: entityName) else {
      throw LoaderError(
        "no entity '\(entityName)' in the registry (known: \(registry.entities.map(\.name).joined(separator: ", ")))")
    }
    guard let data = FileManager.default.contents(atPath: path) else { throw LoaderError("cannot read \(path)") }
    let text = String(decoding: data, as: UTF8.self)
    let isJSONLines = path.hasSuffix(".jsonl") || path.hasSuffix(".ndjson")
    var report = Report()
    var rows: [(line: Int, id: String, timestamp: Int64?, fields: [(String, String)])] = []
    let parsed =
      isJSONLines ? try jsonLines(text, entity: entity, file: path) : try csv(text, entity: entity, file: path)
    for item in parsed {
      switch item {
      case .success(let row): rows.append(row)
      case .failure(let bad):
        if options.strict { throw LoaderError(bad.description) }
        report.badRows.append(bad)
      }
    }
    var shift: Int64 = 0
    if options.shiftTimestampsToNow, let newest = rows.compactMap(\.timestamp).max() {
      // Both are within EventTime.validRange, so neither this nor `timestamp + shift` overflows.
      shift = Int64(time(nil)) - newest
    }
    var commands: [RedisCommand] = []
    for row in rows {
      if let timestamp = row.timestamp, !EventTime.validRange.contains(timestamp + shift) {
        let bad = BadRow(
          file: path, line: row.line,
          reason: "event_timestamp \(timestamp) moved by \(shift) s to now falls before 1970")
        if options.strict { throw LoaderError(bad.description) }
        report.badRows.append(bad)
        continue
      }
      let key = registry.redisKey(entity: entity.name, id: row.id)
      var arguments: [[UInt8]] = [Array("EVAL".utf8), Self.replaceRowScript, Array("1".utf8), Array(key.utf8)]
      for (name, value) in row.fields {
        arguments.append(Array(name.utf8))
        arguments.append(Array(value.utf8))
      }
      if let timestamp = row.timestamp {
        arguments.append(Array("_ts".utf8))
        arguments.append(Array(String(timestamp + shift).utf8))
      }
      commands.append(RedisCommand(arguments: arguments))
    }
    var written = 0
    var start = 0
    while start < commands.count {
      let end = min(commands.count, start + options.batchSize)
      let results = try send(Array(commands[start..<end]))
      for result in results {
        switch result {
        case .success(.integer): written += 1
        case .success(let other):
          throw LoaderError("Redis did not apply a row (it answered \(other)); loaded \(written) rows")
        case .failure(let error):
          throw LoaderError("Redis failed after \(written) rows: \(error)")
        }
      }
      start = end
      progress(written, rows.count)
    }
    report.loaded = written
    return report
  }

  /// Replaces a row in one step: readers never see it half written, and the one key it names
  /// lets a cluster route it (a MULTI block's commands carry no slot of their own).
  static let replaceRowScript = Array(
    "redis.call('DEL', KEYS[1]) if #ARGV == 0 then return 0 end return redis.call('HSET', KEYS[1], unpack(ARGV))".utf8)

  /// Sends a batch from loop 0 and waits for its replies (the loader runs off the loops).
  private func send(_ commands: [RedisCommand]) throws -> [RedisResult] {
    let loop = pool.group.loops[0]
    let done = DispatchSemaphore(value: 0)
    let box = ResultBox()
    let pool = self.pool
    loop.execute {
      pool.on(loop).send(batch: commands) { results in
        box.results = results
        done.signal()
      }
    }
    done.wait()
    return box.results
  }

  // MARK: Parsing

  typealias ParsedRow = Result<(line: Int, id: String, timestamp: Int64?, fields: [(String, String)]), BadRow>

  private func csv(_ text: String, entity: EntityDefinition, file: String) throws -> [ParsedRow] {
    var records = CSVReader.records(text)
    guard !records.isEmpty else { throw LoaderError("\(file): empty file") }
    let header = records.removeFirst().fields
    let idColumn = "\(entity.name)_id"
    guard let idIndex = header.firstIndex(of: idColumn) else {
      throw LoaderError("\(file):1: no '\(idColumn)' column (columns: \(header.joined(separator: ", ")))")
    }
    let timestampIndex = header.firstIndex(of: "event_timestamp")
    var featureColumns: [(index: Int, feature: FeatureDefinition)] = []
    for (index, name) in header.enumerated() where index != idIndex && index != timestampIndex {
      guard let position = entity.storedFeaturePosition(name) else {
        let what =
          entity.featureIndex[name] != nil ? "a window feature (computed from the event stream)" : "not a feature"
        throw LoaderError("\(file):1: column '\(name)' is \(what) of '\(entity.name)'")
      }
      featureColumns.append((index, entity.features[position]))
    }
    return records.map { record in
      guard record.fields.count == header.count else {
        return .failure(
          BadRow(file: file, line: record.line, reason: "\(record.fields.count) fields, expected \(header.count)"))
      }
      var values: [String: String] = [:]
      for column in featureColumns { values[column.feature.name] = record.fields[column.index] }
      return validate(
        line: record.line, id: record.fields[idIndex], timestamp: timestampIndex.map { record.fields[$0] },
        values: values, entity: entity, file: file)
    }
  }

  private func jsonLines(_ text: String, entity: EntityDefinition, file: String) throws -> [ParsedRow] {
    var rows: [ParsedRow] = []
    for (offset, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
      let trimmed = line.trimmingCharacters(in: .whitespaces)
      if trimmed.isEmpty { continue }
      guard let object = try? JSONDecoder().decode([String: JSONScalar].self, from: Data(trimmed.utf8)) else {
        rows.append(.failure(BadRow(file: file, line: offset + 1, reason: "not a JSON object of plain values")))
        continue
      }
      func text(_ value: JSONScalar?) -> String? { value?.text }
      var values: [String: String] = [:]
      var unknown: String? = nil
      for (key, value) in object where key != "\(entity.name)_id" && key != "event_timestamp" {
        guard entity.storedFeaturePosition(key) != nil else {
          unknown = key
          break
        }
        if let value = value.text { values[key] = value }
      }
      if let unknown {
        rows.append(
          .failure(BadRow(file: file, line: offset + 1, reason: "'\(unknown)' is not a feature of '\(entity.name)'")))
        continue
      }
      rows.append(
        validate(
          line: offset + 1, id: text(object["\(entity.name)_id"]) ?? "", timestamp: text(object["event_timestamp"]),
          values: values, entity: entity, file: file))
    }
    return rows
  }

  private func validate(
    line: Int, id: String, timestamp: String?, values: [String: String], entity: EntityDefinition, file: String
  ) -> ParsedRow {
    let canonicalID: String
    switch entity.idRule.canonical(id) {
    case .success(let canonical): canonicalID = canonical
    case .failure(let violation):
      return .failure(BadRow(file: file, line: line, reason: "\(entity.name)_id '\(id)' \(violation.reason)"))
    }
    var eventTime: Int64? = nil
    if let timestamp, !timestamp.isEmpty {
      guard let parsed = EventTime.seconds(timestamp) else {
        return .failure(
          BadRow(
            file: file, line: line,
            reason: "event_timestamp '\(timestamp.prefix(40))' is not epoch seconds between 1970 and 9999"))
      }
      eventTime = parsed
    }
    var fields: [(String, String)] = []
    for feature in entity.features.prefix(entity.storedFeatureCount) {
      guard let text = values[feature.name], !text.isEmpty else { continue }  // empty: missing
      guard let value = FeatureValue(text: text, as: feature.type) else {
        return .failure(
          BadRow(file: file, line: line, reason: "\(feature.name) '\(text)' is not a \(feature.type.rawValue)"))
      }
      fields.append((feature.name, value.storedText))
    }
    if fields.isEmpty && eventTime == nil {
      // A Redis hash cannot be empty: there would be nothing to store.
      return .failure(BadRow(file: file, line: line, reason: "no feature values and no event_timestamp"))
    }
    return .success((line, canonicalID, eventTime, fields))
  }
}

/// A load that cannot go on.
public struct LoaderError: Error, CustomStringConvertible {
  public let description: String
  init(_ description: String) { self.description = description }
}

/// A JSON value that a feature cell may hold, as the text the registry's types parse.
private enum JSONScalar: Decodable {
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

private final class ResultBox: @unchecked Sendable {
  var results: [RedisResult] = []
}

/// RFC 4180 CSV: quoted fields with doubled quotes, CRLF or LF line ends. Records keep the line
/// they start on, for error reports.
enum CSVReader {
  struct Record {
    var line: Int
    var fields: [String]
  }

  static func records(_ text: String) -> [Record] {
    var records: [Record] = []
    var fields: [String] = []
    var field: [UInt8] = []
    var quoted = false
    var line = 1
    var recordLine = 1
    var bytes = Array(text.utf8)
    if bytes.last != UInt8(ascii: "\n") { bytes.append(UInt8(ascii: "\n")) }
    var index = 0
    while index < bytes.count {
      let byte = bytes[index]
      if quoted {
        if byte == UInt8(ascii: "\"") {
          if index + 1 < bytes.count && bytes[index + 1] == UInt8(ascii: "\"") {
            field.append(byte)
            index += 1
          } else {
            quoted = false
          }
        } else {
          if byte == UInt8(ascii: "\n") { line += 1 }
          field.append(byte)
        }
      } else {
        switch byte {
        case UInt8(ascii: "\""): quoted = true
        case UInt8(ascii: ","):
          fields.append(String(decoding: field, as: UTF8.self))
          field.removeAll(keepingCapacity: true)
        case UInt8(ascii: "\r"): break
        case UInt8(ascii: "\n"):
          fields.append(String(decoding: field, as: UTF8.self))
          field.removeAll(keepingCapacity: true)
          if !(fields.count == 1 && fields[0].isEmpty) { records.append(Record(line: recordLine, fields: fields)) }
          fields.removeAll()
          line += 1
          recordLine = line
        default: field.append(byte)
        }
      }
      index += 1
    }
    return records
  }
}
