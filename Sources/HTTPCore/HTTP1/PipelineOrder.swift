/// HTTP/1.1 responses go out in request order (RFC 9112 §9.3.2), however the handlers finish.
///
/// Each request gets a sequence number when it is dispatched. The response for the next number
/// due is serialized straight into the output; one that finishes early is serialized into a
/// parked buffer until everything before it has gone.
struct PipelineOrder {
  /// What serializing a request's response needs to know about the request.
  struct RequestInfo {
    var keepAlive: Bool
    var version: HTTPVersion
    var isHead: Bool
  }

  private(set) var nextSequence: UInt64 = 0
  private(set) var nextToWrite: UInt64 = 0
  /// Infos of the requests not yet written, oldest first (from `infoStart`).
  private var infos: [RequestInfo] = []
  private var infoStart = 0
  private var parked: [UInt64: [UInt8]] = [:]
  /// The last sequence this connection answers; after it is written, the connection closes.
  private(set) var closeAfter: UInt64? = nil

  /// Requests dispatched and not yet written.
  var inFlight: Int { Int(nextSequence &- nextToWrite) }

  /// Registers a request; returns its sequence number.
  mutating func admit(_ info: RequestInfo) -> UInt64 {
    infos.append(info)
    defer { nextSequence &+= 1 }
    return nextSequence
  }

  /// Makes `sequence` the last request answered on this connection (it is answered with
  /// `Connection: close`).
  mutating func closeAfter(_ sequence: UInt64) {
    if closeAfter.map({ sequence < $0 }) ?? true { closeAfter = sequence }
  }

  /// Makes the last request admitted so far the last one answered; false when none is waiting.
  mutating func closeAfterLastAdmitted() -> Bool {
    guard inFlight > 0 else { return false }
    closeAfter(nextSequence &- 1)
    return true
  }

  /// Puts the response for `sequence` in order. Returns true when the last response this
  /// connection sends has now gone into `output`.
  mutating func complete(
    _ sequence: UInt64, _ response: HTTPResponse, into output: inout OutputQueue, date: DateCache
  ) -> Bool {
    guard sequence >= nextToWrite, sequence < nextSequence else { return false }
    let info = infos[infoStart + Int(sequence &- nextToWrite)]
    let keepAlive = info.keepAlive && closeAfter.map { sequence < $0 } ?? info.keepAlive
    if sequence == nextToWrite {
      ResponseSerializer.append(
        response, to: &output, keepAlive: keepAlive, version: info.version, omitBody: info.isHead, date: date)
      if advance() { return true }
      while let bytes = parked.removeValue(forKey: nextToWrite) {
        output.append(bytes)
        if advance() { return true }
      }
      return false
    }
    var bytes: [UInt8] = []
    ResponseSerializer.append(
      response, to: &bytes, keepAlive: keepAlive, version: info.version, omitBody: info.isHead, date: date)
    parked[sequence] = bytes
    return false
  }

  /// Moves past the response just written; true when it was the last one.
  private mutating func advance() -> Bool {
    let written = nextToWrite
    infoStart += 1
    if infoStart == infos.count {
      infos.removeAll(keepingCapacity: infos.capacity <= 256)
      infoStart = 0
    } else if infoStart >= 64 && infoStart * 2 >= infos.count {
      infos.removeFirst(infoStart)  // a pipeline that never empties must not grow the array
      infoStart = 0
    }
    nextToWrite &+= 1
    return closeAfter == written
  }

  /// Forgets everything (the connection closed).
  mutating func reset() {
    parked.removeAll()
    infos.removeAll()
    infoStart = 0
  }
}
