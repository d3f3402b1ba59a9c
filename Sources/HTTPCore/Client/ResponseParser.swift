import Codecs

/// An incremental HTTP/1.1 response parser for the client: status line, fields, and a body
/// framed by Content-Length, chunked coding, or the end of the connection.
struct ResponseParser {
  enum Outcome {
    /// More bytes are needed; `consumed` bytes of the input were taken (body bytes already
    /// stored) and must not be fed again.
    case needMore(consumed: Int)
    /// A complete response, which used `consumed` bytes of the input.
    case response(HTTPClientResponse, consumed: Int)
    case failure(String)
  }

  private enum State {
    case head
    case body(remaining: Int)
    case chunked(ChunkedDecoder)
    case untilClose
  }

  private var state = State.head
  /// False: keep only the status and count the body (no reason, header or body bytes copied):
  /// what a load generator needs, at a fraction of the cost. Framing fields are still checked.
  var keepsFields = true
  private var response = HTTPClientResponse(status: 0, reason: "", headers: HTTPHeaders(), body: [])
  var limits: HTTPLimits

  init(limits: HTTPLimits) {
    self.limits = limits
    self.limits.maxBodyBytes = max(limits.maxBodyBytes, 64 * 1024 * 1024)
  }

  /// The capacity of the body being received (tests check nothing is reserved up front).
  var bodyCapacity: Int { response.body.capacity }

  /// True while the parser is reading a body delimited by the connection's end.
  var readsUntilClose: Bool {
    if case .untilClose = state { return true }
    return false
  }

  /// Parses the next response from `input`. `isHead` says the request was HEAD (no body).
  mutating func parse(_ input: UnsafeRawBufferPointer, isHead: Bool) -> Outcome {
    var consumed = 0
    while true {
      let rest = UnsafeRawBufferPointer(rebasing: input[consumed...])
      switch state {
      case .head:
        guard let base = rest.baseAddress?.assumingMemoryBound(to: UInt8.self), rest.count > 0 else {
          return .needMore(consumed: consumed)
        }
        guard let headEnd = findHeadEnd(base, rest.count) else {
          if rest.count > limits.maxRequestLineBytes + limits.maxHeaderBytes {
            return .failure("response head too large")
          }
          return .needMore(consumed: consumed)
        }
        guard let framing = parseHead(UnsafeRawBufferPointer(start: base, count: headEnd)) else {
          return .failure("unparseable status line or header")
        }
        consumed += headEnd
        if response.status >= 100 && response.status < 200 {
          response = HTTPClientResponse(status: 0, reason: "", headers: HTTPHeaders(), body: [])
          continue  // interim response (100 Continue): the final one follows
        }
        if isHead || response.status == 204 || response.status == 304 {
          return finish(consumed)
        }
        switch framing {
        case .none: state = .untilClose
        case .length(let length):
          if length == 0 { return finish(consumed) }
          guard length <= limits.maxBodyBytes else {
            return .failure("response body of \(length) bytes is over the \(limits.maxBodyBytes)-byte limit")
          }
          if keepsFields { response.body.reserveCapacity(min(length, 64 * 1024)) }  // grows as bytes arrive
          state = .body(remaining: length)
        case .chunked: state = .chunked(ChunkedDecoder(limits: limits))
        }
      case .body(let remaining):
        let take = min(remaining, rest.count)
        if keepsFields {
          response.body.append(contentsOf: rest.prefix(take))
        } else {
          response.discardedBodyBytes += take
        }
        consumed += take
        if take == remaining { return finish(consumed) }
        state = .body(remaining: remaining - take)
        return .needMore(consumed: consumed)
      case .chunked(var decoder):
        switch decoder.decode(rest, into: &response.body) {
        case .needMore:
          state = .chunked(decoder)
          return .needMore(consumed: consumed + rest.count)
        case .done(let used):
          if !keepsFields {
            response.discardedBodyBytes = response.body.count
            response.body = []
          }
          return finish(consumed + used)
        case .failure(let error):
          return .failure(error.reason)
        }
      case .untilClose:
        guard response.bodyByteCount + rest.count <= limits.maxBodyBytes else {
          return .failure("response body is over the \(limits.maxBodyBytes)-byte limit")
        }
        if keepsFields {
          response.body.append(contentsOf: rest)
        } else {
          response.discardedBodyBytes += rest.count
        }
        return .needMore(consumed: consumed + rest.count)
      }
    }
  }

  /// The connection ended: completes a close-delimited body, if one was being read.
  mutating func finishAtClose() -> HTTPClientResponse? {
    guard readsUntilClose else { return nil }
    let done = response
    reset()
    return done
  }

  private mutating func finish(_ consumed: Int) -> Outcome {
    let done = response
    reset()
    return .response(done, consumed: consumed)
  }

  private mutating func reset() {
    state = .head
    response = HTTPClientResponse(status: 0, reason: "", headers: HTTPHeaders(), body: [])
  }

  /// The offset just past the empty line that ends the head (CRLF CRLF, or LF LF from lax peers).
  private func findHeadEnd(_ base: UnsafePointer<UInt8>, _ count: Int) -> Int? {
    var position = 0
    while let lineFeed = RequestHeadParser.findLineFeed(base, from: position, to: count) {
      let next = lineFeed + 1
      if next < count, base[next] == .lf { return next + 1 }
      if next + 1 < count, base[next] == .cr, base[next + 1] == .lf { return next + 2 }
      position = next
    }
    return nil
  }

  private mutating func parseHead(_ head: UnsafeRawBufferPointer) -> BodyFraming? {
    // Byte scanning: lines end in "\r\n" (a lone "\n" is accepted); Strings only for the parts kept.
    guard let base = head.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return nil }
    let count = head.count
    var lineStart = 0
    var isStatusLine = true
    var framing = BodyFraming.none
    while lineStart < count {
      let lineEnd = RequestHeadParser.findLineFeed(base, from: lineStart, to: count) ?? count
      var contentEnd = lineEnd
      if contentEnd > lineStart && base[contentEnd - 1] == 0x0D { contentEnd -= 1 }
      let start = lineStart
      lineStart = lineEnd + 1
      if contentEnd == start { continue }
      let line = UnsafeRawBufferPointer(start: base + start, count: contentEnd - start)
      if isStatusLine {
        isStatusLine = false
        // "HTTP/1.x SSS reason"
        guard line.count >= 12, line[0] == 0x48, line[1] == 0x54, line[2] == 0x54, line[3] == 0x50, line[4] == 0x2F,
          line[5] == 0x31, line[6] == 0x2E, line[8] == 0x20
        else { return nil }  // "HTTP/1.x "
        var status = 0
        for index in 9..<12 {
          let digit = line[index]
          guard digit >= 48 && digit <= 57 else { return nil }
          status = status * 10 + Int(digit - 48)
        }
        guard status >= 100, line.count == 12 || line[12] == 0x20 else { return nil }
        response.status = status
        if keepsFields {
          response.reason =
            line.count > 13 ? String(decoding: UnsafeRawBufferPointer(rebasing: line[13...]), as: UTF8.self) : ""
        }
        continue
      }
      // Without fields kept, only Content-Length and Transfer-Encoding lines are looked at.
      if !keepsFields && line[0] | 0x20 != 0x63 && line[0] | 0x20 != 0x74 { continue }
      var colon = 0
      while colon < line.count && line[colon] != 0x3A { colon += 1 }
      guard colon < line.count else { return nil }
      var valueStart = colon + 1
      var valueEnd = line.count
      while valueStart < valueEnd && (line[valueStart] == 0x20 || line[valueStart] == 0x09) { valueStart += 1 }
      while valueEnd > valueStart && (line[valueEnd - 1] == 0x20 || line[valueEnd - 1] == 0x09) { valueEnd -= 1 }
      let name = UnsafeRawBufferPointer(rebasing: line[..<colon])
      let value = UnsafeRawBufferPointer(rebasing: line[valueStart..<valueEnd])
      // Only the framing fields matter when fields are not kept (names compared by length first).
      let isLength = name.count == 14 && ASCII.equalsIgnoringCase(name, "content-length")
      let isEncoding = !isLength && name.count == 17 && ASCII.equalsIgnoringCase(name, "transfer-encoding")
      guard keepsFields || isLength || isEncoding else { continue }
      guard value.allSatisfy(HTTPSyntax.isFieldValueByte) else { return nil }
      if isLength {
        var length = 0
        guard !value.isEmpty, value.count <= 18 else { return nil }
        for digit in value {
          guard digit >= 48 && digit <= 57 else { return nil }
          length = length * 10 + Int(digit - 48)
        }
        // Repeated Content-Length fields must agree, and never come with chunked coding: a
        // response that could be framed two ways is refused (RFC 9112 §6.3).
        switch framing {
        case .none: framing = .length(length)
        case .length(let earlier) where earlier == length: break
        default: return nil
        }
      } else if isEncoding, String(decoding: value, as: UTF8.self).lowercased().hasSuffix("chunked") {
        if case .length = framing { return nil }
        framing = .chunked
      }
      guard keepsFields else { continue }
      response.headers.add(name: String(decoding: name, as: UTF8.self), value: String(decoding: value, as: UTF8.self))
    }
    return isStatusLine ? nil : framing
  }
}
