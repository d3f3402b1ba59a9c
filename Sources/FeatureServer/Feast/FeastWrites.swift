import HTTPCore
import Reactor
import RedisPool

/// One row of a write: the Redis key, its event time and the fields to set.
struct FeastWriteRow {
  let redisKey: [UInt8]
  let seconds: Int64
  let nanos: Int32
  /// Feature field, serialised Value; field, value; ...
  let fields: [[UInt8]]
}

extension FeastServing {
  /// Writes a row only when it is newer than the one stored (Feast's rule: a row whose event time
  /// is not after the stored `_ts:<view>` is skipped), atomically: Feast's own writer reads the
  /// stored times and writes in a second round trip, which lets an older row win a race.
  /// KEYS[1] = entity key; ARGV = ts field, ts bytes, seconds, nanos, key ttl (0: none), then
  /// field/value pairs. Returns 1 when written, 0 when skipped.
  static let writeScript = """
    local old = redis.call('HGET', KEYS[1], ARGV[1])
    if old and #old > 0 then
      local seconds, nanos, i = 0, 0, 1
      while i <= #old do
        local key = string.byte(old, i)
        i = i + 1
        local value, scale, byte, count = 0, 1, 128, 0
        while byte >= 128 and i <= #old do
          byte = string.byte(old, i)
          i = i + 1
          value = value + (byte % 128) * scale
          scale = scale * 128
          count = count + 1
        end
        if count >= 10 then value = value - 18446744073709551616 end
        if key == 8 then seconds = value elseif key == 16 then nanos = value end
      end
      local s, n = tonumber(ARGV[3]), tonumber(ARGV[4])
      if (seconds ~= 0 or nanos ~= 0) and (s < seconds or (s == seconds and n <= nanos)) then return 0 end
    end
    redis.call('HSET', KEYS[1], ARGV[1], ARGV[2], unpack(ARGV, 6))
    if tonumber(ARGV[5]) > 0 then redis.call('EXPIRE', KEYS[1], ARGV[5]) end
    return 1
    """
  static let writeScriptBytes = Array(writeScript.utf8)

  /// The rows of a `df` (`{"column": [values...]}`) for `view`: every join key and feature column
  /// present, the event time in the batch source's timestamp column or `event_timestamp`. Rows
  /// for the same key are reduced to the one Feast would keep (the latest event time, the first
  /// of equal ones). Errors name `df.<column>[row]`.
  func writeRows(_ view: FeastFeatureView, df: [(String, JSONValue)]) throws(FeastRequestError) -> [FeastWriteRow] {
    var columns: [String: [JSONValue]] = [:]
    var rowCount: Int? = nil
    for (name, value) in df {
      guard case .array(let values) = value else {
        throw FeastRequestError.invalid(["body", "df", name], "Input should be a valid list")
      }
      if let rowCount, rowCount != values.count {
        throw FeastRequestError.invalid(
          ["body", "df"], "every column must have as many rows (\(name) has \(values.count), another \(rowCount))")
      }
      rowCount = values.count
      columns[name] = values
    }
    let rows = rowCount ?? 0
    guard rows <= configuration.maxWriteRows else {
      throw FeastRequestError.tooLarge(
        "more than \(configuration.maxWriteRows) rows in one write (--feast-max-write-rows)")
    }
    let missing =
      view.joinKeys.map(\.name).filter { $0 != FeastRegistryBuilder.dummyJoinKey && columns[$0] == nil }
      + view.features.map(\.name).filter { columns[$0] == nil }
    if !missing.isEmpty {
      throw FeastRequestError.invalid(
        ["body", "df"],
        "columns \(missing.map { "'\($0)'" }.joined(separator: ", ")) of feature view \(view.name) are missing")
    }
    let timestampName = [view.timestampColumn, "event_timestamp"].compactMap { $0 }.first { columns[$0] != nil }
    guard let timestampName, let timestamps = columns[timestampName] else {
      throw FeastRequestError.invalid(
        ["body", "df"], "Field \"\(view.timestampColumn ?? "event_timestamp")\" does not exist in schema")
    }
    var result: [FeastWriteRow] = []
    result.reserveCapacity(rows)
    var rowOfKey: [RowKey: Int] = [:]
    for row in 0..<rows {
      var parts: [[UInt8]] = []
      for joinKey in view.joinKeys {
        if joinKey.name == FeastRegistryBuilder.dummyJoinKey {
          parts.append(FeastServing.dummyKeyPart)
          continue
        }
        let input = FeastEntityInput(columns[joinKey.name]![row])
        parts.append(
          try FeastEntityKey.convert(input, to: joinKey.type, location: ["body", "df", joinKey.name, "\(row)"]).part)
      }
      let time: (Int64, Int32)?
      switch timestamps[row] {
      case .string(let text): time = FeastTimestamp.parseISO8601(text)
      case .number(let value, _)
      where value.isFinite
        && FeastTimestamp.secondsRange.contains(Int64(clamping: Int(exactly: value.rounded(.down)) ?? Int.max)):
        let whole = value.rounded(.down)
        // min: a fraction a hair below 1 rounds to 1e9 ns, which no Timestamp holds.
        time = (Int64(whole), Int32(min(999_999_999, ((value - whole) * 1e9).rounded(.down))))
      default: time = nil
      }
      guard let (seconds, nanos) = time else {
        throw FeastRequestError.invalid(
          ["body", "df", timestampName, "\(row)"], "expected an ISO 8601 date-time or epoch seconds")
      }
      var fields: [[UInt8]] = []
      fields.reserveCapacity(view.features.count * 2)
      for feature in view.features {
        fields.append(feature.field)
        do {
          fields.append(try FeastValueEncoder.encode(columns[feature.name]![row], as: feature.type))
        } catch {
          throw FeastRequestError.invalid(["body", "df", feature.name, "\(row)"], error.message)
        }
      }
      let key = FeastEntityKey.redisKey(view: view, parts: parts, project: project)
      let written = FeastWriteRow(redisKey: key, seconds: seconds, nanos: nanos, fields: fields)
      if let earlier = rowOfKey[RowKey(key)] {
        let kept = result[earlier]
        if (seconds, nanos) > (kept.seconds, kept.nanos) { result[earlier] = written }
      } else {
        rowOfKey[RowKey(key)] = result.count
        result.append(written)
      }
    }
    return result
  }

  func command(_ row: FeastWriteRow, view: FeastFeatureView) -> RedisCommand {
    var arguments: [[UInt8]] = [Array("EVAL".utf8), FeastServing.writeScriptBytes, Array("1".utf8), row.redisKey]
    arguments.append(view.timestampField)
    arguments.append(FeastTimestamp.encode(seconds: row.seconds, nanos: row.nanos))
    arguments.append(Array(String(row.seconds).utf8))
    arguments.append(Array(String(row.nanos).utf8))
    arguments.append(Array(String(repository.keyTTLSeconds ?? 0).utf8))
    arguments.append(contentsOf: row.fields)
    return RedisCommand(arguments: arguments)
  }
}

extension FeatureService {
  // MARK: POST /write-to-online-store and POST /push

  /// `{"feature_view_name", "df", ...}`: what the Feast SDK's remote online store sends for
  /// `write_to_online_store` and `push`.
  func writeToOnlineStore(_ request: HTTPRequest, _ responder: HTTPResponder, feast: FeastServing) {
    let started = monotonicNanoseconds()
    do throws(FeastRequestError) {
      let members = try Self.writeBody(request)
      guard case .string(let viewName)? = members.first(where: { $0.0 == "feature_view_name" })?.1 else {
        throw FeastRequestError.missing(["body", "feature_view_name"])
      }
      guard let view = feast.registry.viewByName[viewName] else {
        if let reason = feast.registry.unservedViews[viewName] {
          throw FeastRequestError.feast(
            className: "FeastError", message: "Feature view \(viewName) is not served by featureserver: \(reason)",
            status: .notImplemented)
        }
        throw FeastRequestError.feast(
          className: "FeastObjectNotFoundException", message: "Can't recognize feast object with a name \(viewName)",
          status: .notFound)
      }
      let df = try Self.dataFrame(members)
      let rows = try feast.writeRows(view, df: df)
      write(rows.map { (view, $0) }, feast: feast, responder: responder, route: .feastWrite, started: started)
    } catch {
      answer(responder, .feastWrite, error.response, since: started)
    }
  }

  /// `{"push_source_name", "df", "to": "online"}`: writes the rows to every view the push source feeds.
  func push(_ request: HTTPRequest, _ responder: HTTPResponder, feast: FeastServing) {
    let started = monotonicNanoseconds()
    do throws(FeastRequestError) {
      let members = try Self.writeBody(request)
      guard case .string(let sourceName)? = members.first(where: { $0.0 == "push_source_name" })?.1 else {
        throw FeastRequestError.missing(["body", "push_source_name"])
      }
      var destination = "online"
      if let to = members.first(where: { $0.0 == "to" })?.1 {
        guard case .string(let text) = to else {
          throw FeastRequestError.invalid(["body", "to"], "Input should be a valid string")
        }
        destination = text
      }
      switch destination {
      case "online": break
      case "offline", "online_and_offline":
        throw FeastRequestError.feast(
          className: "FeastError",
          message:
            "featureserver writes the online store only; push with to='\(destination)' through Feast's own feature server",
          status: .notImplemented)
      default:
        throw FeastRequestError.invalid(
          ["body", "to"],
          "\(destination) is not a supported push format. Please specify one of these ['online', 'offline', 'online_and_offline']."
        )
      }
      guard let views = feast.registry.pushSources[sourceName], !views.isEmpty else {
        throw FeastRequestError.feast(
          className: "PushSourceNotFoundException", message: "Unable to find push source '\(sourceName)'.",
          status: .unprocessableContent)
      }
      let df = try Self.dataFrame(members)
      var rows: [(FeastFeatureView, FeastWriteRow)] = []
      for view in views { rows += try feast.writeRows(view, df: df).map { (view, $0) } }
      write(rows, feast: feast, responder: responder, route: .feastPush, started: started)
    } catch {
      answer(responder, .feastPush, error.response, since: started)
    }
  }

  private static func writeBody(_ request: HTTPRequest) throws(FeastRequestError) -> [(String, JSONValue)] {
    let value: JSONValue
    do {
      value = try request.body.withUnsafeBufferPointer { try JSONValue.parse($0, allowNonFinite: true) }
    } catch let error as JSONScanner.SyntaxError {
      throw FeastRequestError.syntax(error)
    } catch {
      throw FeastRequestError.invalid(["body"], "\(error)")
    }
    guard case .object(let members) = value else {
      throw FeastRequestError.invalid(["body"], "Input should be a valid dictionary")
    }
    return members
  }

  private static func dataFrame(_ members: [(String, JSONValue)]) throws(FeastRequestError) -> [(String, JSONValue)] {
    guard let df = members.first(where: { $0.0 == "df" })?.1 else { throw FeastRequestError.missing(["body", "df"]) }
    guard case .object(let columns) = df else {
      throw FeastRequestError.invalid(["body", "df"], "Input should be a valid dictionary")
    }
    return columns
  }

  /// Sends the rows in batches of `writeBatch` (each batch waits for the one before), drops the
  /// keys written from the shared cache, then answers 200 `null` as Feast does.
  private func write(
    _ rows: [(FeastFeatureView, FeastWriteRow)], feast: FeastServing, responder: HTTPResponder, route: Route,
    started: UInt64
  ) {
    let redis = readers[responder.eventLoop.index].redis
    let batch = feast.configuration.writeBatch
    func send(from start: Int) {
      guard start < rows.count else {
        forget(rows.map { $0.0.rowKey(redisKey: $0.1.redisKey) })
        answer(responder, route, HTTPResponse(headers: jsonHeaders, body: Array("null".utf8)), since: started)
        return
      }
      let end = min(rows.count, start + batch)
      let commands = rows[start..<end].map { feast.command($0.1, view: $0.0) }
      redis.send(batch: commands) { [self] results in
        for result in results {
          switch result {
          case .success(.error(let message)):
            featureLogger.error("a Feast write was refused by Redis", metadata: ["redis": "\(message.prefix(200))"])
            return answer(
              responder, route,
              FeastRequestError.feast(
                className: "FeastError",
                message: "Redis refused the write after \(start) of \(rows.count) rows: \(message.prefix(200))",
                status: .internalServerError
              ).response, since: started)
          case .failure(let error):
            return answer(
              responder, route,
              FeastRequestError.unavailable(
                "the online store (Redis) failed after \(start) of \(rows.count) rows were written: \(error)"
              ).response,
              since: started)
          case .success:
            continue
          }
        }
        send(from: end)
      }
    }
    send(from: 0)
  }

  /// Drops rows from the shared cache.
  func forget(_ keys: [RowKey]) {
    guard let cache else { return }
    for key in keys { cache.remove(key) }
  }
}
