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
  private var response = HTTPClientResponse(status: 0, reason: "", headers: HTTPHeaders(), body: [])
  var limits: HTTPLimits

  init(limits: HTTPLimits) {
    self.limits = limits
    self.limits.maxBodyBytes = max(limits.maxBodyBytes, 64 * 1024 * 1024)
  }

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
          response.body.reserveCapacity(length)
          state = .body(remaining: length)
        case .chunked: state = .chunked(ChunkedDecoder(limits: limits))
        }
      case .body(let remaining):
        let take = min(remaining, rest.count)
        response.body.append(contentsOf: rest.prefix(take))
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
          return finish(consumed + used)
        case .failure(let error):
          return .failure(error.reason)
        }
      case .untilClose:
        response.body.append(contentsOf: rest)
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
    let text = String(decoding: head, as: UTF8.self)
    // "\r\n" is one Character in Swift: split on both it and a lone "\n".
    var lines = text.split(omittingEmptySubsequences: true) { $0 == "\r\n" || $0 == "\n" }
    guard !lines.isEmpty else { return nil }
    let statusLine = lines.removeFirst()
    let parts = statusLine.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
    guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]), (100...999).contains(status)
    else { return nil }
    response.status = status
    response.reason = parts.count > 2 ? String(parts[2]) : ""
    var framing = BodyFraming.none
    for line in lines where !line.isEmpty {
      guard let colon = line.firstIndex(of: ":") else { return nil }
      let name = String(line[..<colon])
      let value = line[line.index(after: colon)...].trimmingASCIIWhitespace()
      response.headers.add(name: name, value: value)
      if equalsIgnoringASCIICase(name, "content-length") {
        guard let length = Int(value), length >= 0 else { return nil }
        if case .chunked = framing {} else { framing = .length(length) }
      } else if equalsIgnoringASCIICase(name, "transfer-encoding"), value.lowercased().hasSuffix("chunked") {
        framing = .chunked
      }
    }
    return framing
  }
}

extension Substring {
  func trimmingASCIIWhitespace() -> String {
    var view = self[...]
    while let first = view.first, first == " " || first == "\t" { view = view.dropFirst() }
    while let last = view.last, last == " " || last == "\t" { view = view.dropLast() }
    return String(view)
  }
}
