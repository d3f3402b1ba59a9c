import Foundation
import RedisPool

/// One row that passed validation: its instance's key and its fields, encoded for the write.
struct ValidRow {
  var line: Int
  var key: [UInt8]
  /// Its event time as read (before any shift).
  var timestamp: Int64?
  /// `name value` pairs of the row's stored features and `_ts` (its shifted event time),
  /// encoded as Redis arguments.
  var fields: RedisCommand.EncodedArguments
}

/// Turns a file's records into validated rows of one entity: the header (CSV) or each object's
/// keys (JSON lines) name the id column (`<entity>_id`), an optional `event_timestamp` and the
/// entity's stored features; every value must parse as its feature's type.
struct LoaderRows {
  typealias Parsed = Result<ValidRow, Loader.BadRow>

  let registry: Registry
  let entity: EntityDefinition
  let file: String
  /// Seconds added to every event time (`--shift-timestamps-to-now`).
  var shift: Int64 = 0

  /// Calls `body` with every row of the file, read in chunks (bounded memory), and
  /// `chunkDone` with the bytes read so far after each chunk.
  func forEach(
    isJSONLines: Bool, chunkDone: (Int) -> Void = { _ in }, _ body: (Parsed) throws -> Void
  ) throws {
    if isJSONLines { try jsonLines(chunkDone, body) } else { try csv(chunkDone, body) }
  }

  // MARK: CSV

  private func csv(_ chunkDone: (Int) -> Void, _ body: (Parsed) throws -> Void) throws {
    var reader = CSVReader()
    var columns: CSVColumns? = nil
    func handle(_ record: CSVReader.Record) throws {
      guard let columns else {
        columns = try CSVColumns(header: record, entity: entity, file: file)
        return
      }
      try body(validate(record, columns: columns))
    }
    try FileChunks.read(path: file) { chunk, bytesRead in
      try reader.feed(chunk, handle)
      chunkDone(bytesRead)
    }
    try reader.finish(handle)
    if columns == nil { throw LoaderError("\(file): empty file") }
  }

  private func validate(_ record: CSVReader.Record, columns: CSVColumns) -> Parsed {
    guard record.fieldCount == columns.count else {
      return .failure(
        Loader.BadRow(file: file, line: record.line, reason: "\(record.fieldCount) fields, expected \(columns.count)"))
    }
    let start = { (index: Int) in index == 0 ? 0 : record.ends[index - 1] }
    return validate(
      line: record.line, id: record.field(columns.id),
      timestamp: columns.timestamp.map { record.bytes[start($0)..<record.ends[$0]] }
    ) { position in
      guard let column = columns.byFeature[position] else { return nil }
      return record.bytes[start(column)..<record.ends[column]]
    }
  }

  // MARK: JSON lines

  private func jsonLines(_ chunkDone: (Int) -> Void, _ body: (Parsed) throws -> Void) throws {
    var line: [UInt8] = []
    var number = 1
    let maxLineBytes = 1 << 20
    func endLine() throws {
      defer {
        line.removeAll(keepingCapacity: true)
        number += 1
      }
      guard line.contains(where: { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\t") && $0 != 13 }) else { return }
      try body(validateJSON(line, number: number))
    }
    try FileChunks.read(path: file) { chunk, bytesRead in
      defer { chunkDone(bytesRead) }
      for byte in chunk {
        if byte == UInt8(ascii: "\n") {
          try endLine()
        } else {
          line.append(byte)
          if line.count > maxLineBytes {
            throw LoaderError("\(file):\(number): a line longer than \(maxLineBytes) bytes")
          }
        }
      }
    }
    try endLine()
  }

  private func validateJSON(_ line: [UInt8], number: Int) -> Parsed {
    guard let object = try? JSONDecoder().decode([String: JSONScalar].self, from: Data(line)) else {
      return .failure(Loader.BadRow(file: file, line: number, reason: "not a JSON object of plain values"))
    }
    var values = [ArraySlice<UInt8>?](repeating: nil, count: entity.storedFeatureCount)
    for (key, value) in object where key != "\(entity.name)_id" && key != "event_timestamp" {
      guard let position = entity.storedFeaturePosition(key) else {
        return .failure(
          Loader.BadRow(file: file, line: number, reason: "'\(key)' is not a feature of '\(entity.name)'"))
      }
      if let text = value.text { values[position] = ArraySlice(text.utf8) }
    }
    return validate(
      line: number, id: object["\(entity.name)_id"]?.text ?? "",
      timestamp: object["event_timestamp"]?.text.map { ArraySlice($0.utf8) }
    ) { values[$0] }
  }

  // MARK: Validation

  private static let timestampField = Array("_ts".utf8)

  /// Checks one row: its id (made canonical), its event time and each stored feature's value
  /// (`cell(position)`: nil or empty when the row has none).
  private func validate(
    line: Int, id: String, timestamp: ArraySlice<UInt8>?, cell: (Int) -> ArraySlice<UInt8>?
  ) -> Parsed {
    let canonicalID: String
    switch entity.idRule.canonical(id) {
    case .success(let canonical): canonicalID = canonical
    case .failure(let violation):
      return .failure(Loader.BadRow(file: file, line: line, reason: "\(entity.name)_id '\(id)' \(violation.reason)"))
    }
    var eventTime: Int64? = nil
    if let timestamp, !timestamp.isEmpty {
      guard let parsed = timestamp.withUnsafeBytes({ EventTime.seconds($0) }) else {
        let text = String(decoding: timestamp.prefix(40), as: UTF8.self)
        return .failure(
          Loader.BadRow(
            file: file, line: line, reason: "event_timestamp '\(text)' is not epoch seconds between 1970 and 9999"))
      }
      eventTime = parsed
    }
    var fields = RedisCommand.EncodedArguments(reservingCapacity: 256)
    for (position, feature) in entity.features.prefix(entity.storedFeatureCount).enumerated() {
      guard let text = cell(position), !text.isEmpty else { continue }  // empty: missing
      guard text.withUnsafeBytes({ FeatureValue(utf8: $0, as: feature.type) }) != nil else {
        let shown = String(decoding: text, as: UTF8.self)
        return .failure(
          Loader.BadRow(file: file, line: line, reason: "\(feature.name) '\(shown)' is not a \(feature.type.rawValue)"))
      }
      // Stored as given: the read path parses these bytes with the same parser that accepted
      // them here.
      fields.append(feature.nameUTF8)
      text.withUnsafeBytes { fields.append($0) }
    }
    if let time = eventTime {
      // Both are within EventTime.validRange, so the sum does not overflow.
      guard EventTime.validRange.contains(time + shift) else {
        return .failure(
          Loader.BadRow(
            file: file, line: line, reason: "event_timestamp \(time) moved by \(shift) s to now falls before 1970"))
      }
      fields.append(Self.timestampField)
      fields.append(decimal: time + shift)
    }
    if fields.count == 0 {
      // A Redis hash cannot be empty: there would be nothing to store.
      return .failure(Loader.BadRow(file: file, line: line, reason: "no feature values and no event_timestamp"))
    }
    let key = Array(registry.redisKey(entity: entity.name, id: canonicalID).utf8)
    return .success(ValidRow(line: line, key: key, timestamp: eventTime, fields: fields))
  }
}

/// Where each part of a row is in a CSV file's records, from its header.
private struct CSVColumns {
  let count: Int
  let id: Int
  let timestamp: Int?
  /// By stored feature position: its column.
  let byFeature: [Int?]

  init(header record: CSVReader.Record, entity: EntityDefinition, file: String) throws {
    let header = (0..<record.fieldCount).map { record.field($0) }
    let idColumn = "\(entity.name)_id"
    guard let id = header.firstIndex(of: idColumn) else {
      throw LoaderError("\(file):1: no '\(idColumn)' column (columns: \(header.joined(separator: ", ")))")
    }
    let timestamp = header.firstIndex(of: "event_timestamp")
    var byFeature = [Int?](repeating: nil, count: entity.storedFeatureCount)
    for (index, name) in header.enumerated() where index != id && index != timestamp {
      guard let position = entity.storedFeaturePosition(name) else {
        let what =
          entity.featureIndex[name] != nil ? "a window feature (computed from the event stream)" : "not a feature"
        throw LoaderError("\(file):1: column '\(name)' is \(what) of '\(entity.name)'")
      }
      byFeature[position] = index
    }
    count = header.count
    self.id = id
    self.timestamp = timestamp
    self.byFeature = byFeature
  }
}
