import HTTPCore
import Reactor
import RedisPool

extension FeatureService {
  // MARK: POST /events

  /// Appends transaction events to the event stream (XADD, one field per member): a JSON array
  /// of objects or JSON lines. Every event is checked first; one that the window features could
  /// not use is a 400 naming it, and nothing is appended. 202 with the count when appended.
  func postEvents(_ request: HTTPRequest, _ responder: HTTPResponder, stream: String) {
    let started = monotonicNanoseconds()
    let objects: [[EventsBody.Member]]
    switch EventsBody.objects(request.body, limit: configuration.stream.maxEventsPerRequest) {
    case .success(let parsed): objects = parsed
    case .failure(let error): return answer(responder, .events, error.response, since: started)
    }
    var commands: [RedisCommand] = []
    commands.reserveCapacity(objects.count)
    let streamBytes = Array(stream.utf8)
    for (index, members) in objects.enumerated() {
      var object = FlatJSONObject()
      var arguments: [[UInt8]] = [Self.xadd, streamBytes, Self.autoID]
      for member in members {
        let name = member.name
        let text: String
        switch member.value {
        case .string(let string): text = string
        case .number(let number, let integer):
          if let integer { text = String(integer) } else { text = number.description }
        case .bool(let flag): text = flag ? "true" : "false"
        case .null: continue
        case .array, .object:
          return answer(
            responder, .events,
            .error(
              .badRequest, code: "invalid_event", message: "events[\(index)].\(name): must be a string or a number"),
            since: started)
        }
        object.append(name, .string(text))
        arguments.append(Array(name.utf8))
        arguments.append(Array(text.utf8))
      }
      if let problem = windowEventProblem(object) {
        return answer(
          responder, .events,
          .error(.badRequest, code: "invalid_event", message: "events[\(index)]: \(problem.explanation)"),
          since: started)
      }
      commands.append(RedisCommand(arguments: arguments))
    }
    guard !commands.isEmpty else {
      return answer(
        responder, .events, HTTPResponse(status: .accepted, headers: jsonHeaders, body: Array(#"{"accepted":0}"#.utf8)),
        since: started)
    }
    readers[responder.eventLoop.index].redis.send(batch: commands) { [self] results in
      let appended = results.filter { if case .success(.bulk) = $0 { true } else { false } }.count
      guard appended == results.count else {
        if case .failure(let error) = results.first(where: { if case .failure = $0 { true } else { false } }) {
          return answer(responder, .events, unavailable(error), since: started)
        }
        return answer(
          responder, .events,
          .error(
            .internalServerError, code: "stream_refused",
            message: "Redis refused \(results.count - appended) of \(results.count) events (\(appended) appended)"),
          since: started)
      }
      answer(
        responder, .events,
        HTTPResponse(status: .accepted, headers: jsonHeaders, body: Array(#"{"accepted":\#(appended)}"#.utf8)),
        since: started)
    }
  }

  /// Nil when some entity with windows can use the event; otherwise why none can.
  func windowEventProblem(_ object: FlatJSONObject) -> WindowEventProblem? {
    var problem: WindowEventProblem = .missingKey
    for entity in registry.entities {
      guard let windows = entity.windows else { continue }
      switch windows.schema.parse(object) {
      case .success(let event):
        if case .success = entity.idRule.canonical(event.key) { return nil }
      case .failure(.missingKey): continue
      case .failure(let other): problem = other
      }
    }
    return problem
  }

  private static let xadd = Array("XADD".utf8)
  private static let autoID = Array("*".utf8)
}

/// The body of POST /events: a JSON array of event objects, or JSON lines.
enum EventsBody {
  /// One member of an event object.
  struct Member {
    let name: String
    let value: JSONValue
  }

  /// The objects of a JSON array or of JSON lines, at most `limit`.
  static func objects(_ body: [UInt8], limit: Int) -> Result<[[Member]], HTTPResponseError> {
    func invalid(_ message: String) -> Result<[[Member]], HTTPResponseError> {
      .failure(HTTPResponseError(.error(.badRequest, code: "invalid_json", message: message)))
    }
    let tooMany = Result<[[Member]], HTTPResponseError>.failure(
      HTTPResponseError(
        .error(
          .contentTooLarge, code: "too_many_events", message: "more than \(limit) events; at most \(limit) per request")
      ))
    let first = body.first { $0 != 32 && $0 != 9 && $0 != 10 && $0 != 13 }
    var objects: [[Member]] = []
    if first == UInt8(ascii: "[") {
      let parsed: JSONValue
      do {
        parsed = try body.withUnsafeBufferPointer { try JSONValue.parse($0) }
      } catch {
        return invalid("the body is not valid JSON: \(error)")
      }
      guard case .array(let items) = parsed else { return invalid("expected a JSON array of events") }
      guard items.count <= limit else { return tooMany }
      for (index, item) in items.enumerated() {
        guard case .object(let members) = item else { return invalid("events[\(index)]: expected a JSON object") }
        objects.append(members.map { Member(name: $0.0, value: $0.1) })
      }
      return .success(objects)
    }
    var lineStart = 0
    var index = 0
    for position in 0...body.count where position == body.count || body[position] == UInt8(ascii: "\n") {
      defer { lineStart = position + 1 }
      let line = body[lineStart..<position]
      guard line.contains(where: { $0 != 32 && $0 != 9 && $0 != 13 }) else { continue }
      guard objects.count < limit else { return tooMany }
      let parsed: JSONValue
      do {
        parsed = try line.withUnsafeBufferPointer { try JSONValue.parse($0) }
      } catch {
        return invalid("events[\(index)] (line): not valid JSON: \(error)")
      }
      guard case .object(let members) = parsed else { return invalid("events[\(index)]: expected a JSON object") }
      objects.append(members.map { Member(name: $0.0, value: $0.1) })
      index += 1
    }
    guard !objects.isEmpty else { return invalid("no events: send a JSON array of events or JSON lines") }
    return .success(objects)
  }

}
