import Codecs

/// Writes the `/get-online-features` answer in the shape of Feast's Python server: one result
/// per column (join keys first, then features), each with a value, a status and an event time
/// per entity row; `metadata.feature_names` names the columns.
enum FeastResponseWriter {
  static let epoch: [UInt8] = Array(#""1970-01-01T00:00:00Z""#.utf8)

  static func write(
    parsed: FeastOnlineRequest, selection: FeastSelection, columns: [FeastEntityColumn], rowCount: Int,
    results: [RowResult], enforceTTL: Bool, now: Int64, metrics: LoopMetrics, into body: inout [UInt8]
  ) {
    append(#"{"results":["#, to: &body)
    var first = true
    for column in columns {
      if !first { body.append(UInt8(ascii: ",")) }
      first = false
      append(#"{"values":["#, to: &body)
      for row in 0..<rowCount {
        if row > 0 { body.append(UInt8(ascii: ",")) }
        body.append(contentsOf: column.echoes[row])
      }
      append(#"],"statuses":["#, to: &body)
      appendRepeated(#""PRESENT""#, count: rowCount, to: &body)
      append(#"],"event_timestamps":["#, to: &body)
      appendRepeated(#""1970-01-01T00:00:00Z""#, count: rowCount, to: &body)
      append("]}", to: &body)
    }
    for (groupIndex, group) in selection.groups.enumerated() {
      let base = groupIndex * rowCount
      // Per row: the row (if read), and its status for every feature of the view.
      var rows: [FeastRow?] = []
      var statuses: [StaticString] = []
      rows.reserveCapacity(rowCount)
      statuses.reserveCapacity(rowCount)
      for row in 0..<rowCount {
        switch results[base + row] {
        case .found(.feast(let feastRow), _):
          rows.append(feastRow)
          metrics.feastRows[(feastRow.found ? FeastRowResult.found : .absent).rawValue].wrappingIncrement(
            ordering: .relaxed)
          if enforceTTL && !feastRow.found {
            statuses.append(#""NOT_FOUND""#)
          } else if enforceTTL && group.view.ttlSeconds > 0 && now &- feastRow.eventSeconds > group.view.ttlSeconds {
            statuses.append(#""OUTSIDE_MAX_AGE""#)
          } else {
            statuses.append(#""PRESENT""#)
          }
        default:
          // A key that holds something else than a Feast hash (counted and logged by the reader).
          rows.append(nil)
          metrics.feastRows[FeastRowResult.invalid.rawValue].wrappingIncrement(ordering: .relaxed)
          statuses.append(#""INVALID""#)
        }
      }
      for feature in group.features {
        if !first { body.append(UInt8(ascii: ",")) }
        first = false
        append(#"{"values":["#, to: &body)
        for row in 0..<rowCount {
          if row > 0 { body.append(UInt8(ascii: ",")) }
          if let feastRow = rows[row] {
            body.append(contentsOf: feastRow.value(feature))
          } else {
            body.append(contentsOf: FeastValueJSON.nullText)
          }
        }
        append(#"],"statuses":["#, to: &body)
        for row in 0..<rowCount {
          if row > 0 { body.append(UInt8(ascii: ",")) }
          // Feast's Go server marks a null value NOT_FOUND, feature by feature.
          if enforceTTL, let feastRow = rows[row], feastRow.value(feature).elementsEqual(FeastValueJSON.nullText) {
            append(#""NOT_FOUND""#, to: &body)
          } else {
            append(statuses[row], to: &body)
          }
        }
        append(#"],"event_timestamps":["#, to: &body)
        for row in 0..<rowCount {
          if row > 0 { body.append(UInt8(ascii: ",")) }
          body.append(contentsOf: rows[row]?.renderedTimestamp ?? epoch)
        }
        append("]}", to: &body)
      }
    }
    append(#"],"metadata":{"feature_names":["#, to: &body)
    var firstName = true
    for column in columns {
      if !firstName { body.append(UInt8(ascii: ",")) }
      firstName = false
      JSONText.appendString(column.joinKey, to: &body)
    }
    for name in selection.names {
      if !firstName { body.append(UInt8(ascii: ",")) }
      firstName = false
      body.append(contentsOf: name)
    }
    body.append(UInt8(ascii: "]"))
    if parsed.includeViewMetadata {
      append(#","feature_view_metadata":["#, to: &body)
      for (index, group) in selection.groups.enumerated() {
        if index > 0 { body.append(UInt8(ascii: ",")) }
        append(#"{"name":"#, to: &body)
        JSONText.appendString(group.name, to: &body)
        body.append(UInt8(ascii: "}"))
      }
      body.append(UInt8(ascii: "]"))
    }
    append("}}", to: &body)
  }

  /// An upper estimate of the answer's size, so that it is built without growing.
  static func estimatedSize(selection: FeastSelection, entityColumns: Int, rowCount: Int, results: [RowResult]) -> Int {
    var size = 128 + entityColumns * (48 + rowCount * 48)
    for name in selection.names { size += name.count + 56 }
    for (groupIndex, group) in selection.groups.enumerated() {
      for row in 0..<rowCount {
        guard groupIndex * rowCount + row < results.count else { break }
        if case .found(.feast(let feastRow), _) = results[groupIndex * rowCount + row] {
          size += feastRow.rendered.count + group.features.count * (feastRow.renderedTimestamp.count + 14)
        } else {
          size += group.features.count * (epoch.count + 20)
        }
      }
    }
    return size
  }

  /// Constant text, copied in one go (appending a String's UTF-8 view goes byte by byte).
  private static func append(_ text: StaticString, to body: inout [UInt8]) {
    body.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
  }

  private static func appendRepeated(_ text: StaticString, count: Int, to body: inout [UInt8]) {
    for index in 0..<count {
      if index > 0 { body.append(UInt8(ascii: ",")) }
      append(text, to: &body)
    }
  }
}
