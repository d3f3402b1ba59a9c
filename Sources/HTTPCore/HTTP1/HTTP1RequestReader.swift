#if canImport(Glibc)
  import Glibc
#endif

/// HTTP/1.1 message framing on the server side: turns the input bytes into whole requests, one at
/// a time: the head (`RequestHeadParser`), then a body framed by Content-Length or chunked coding
/// (RFC 9112 §6), moved out of the input into the request as it arrives.
///
/// Bodies are bounded three ways: by `maxBodyBytes` per request, by the process-wide body budget
/// (a declared length is reserved in full when the head arrives, a chunked body as it grows), and
/// by a deadline for the whole body, which the session checks. The body buffer grows with the
/// bytes that actually arrive; a declared length is never allocated up front.
struct HTTP1RequestReader {
  enum Event {
    /// A whole request; `keepAlive` says whether the connection may carry another.
    case request(HTTPRequest, keepAlive: Bool)
    /// The input holds no complete request (yet).
    case needMore
    case failure(HTTPParseError)
  }

  private enum State {
    case head
    case body(remaining: Int)
    case chunked(ChunkedDecoder)
  }

  private var state = State.head
  private var pending: (request: HTTPRequest, keepAlive: Bool)? = nil
  /// Body bytes reserved in the process-wide budget for the request being read.
  private(set) var reservedBodyBytes = 0
  /// When the first bytes of the current head arrived (0: none yet).
  private(set) var headStartedAt: UInt64 = 0
  /// When the current request's head was complete and its body began (0: no body under way).
  private(set) var bodyStartedAt: UInt64 = 0
  /// A head asked for `100 Continue` and its body has not fully arrived.
  var continueRequested = false
  /// The previous request's first header fields on this connection, as sent and as Strings: a
  /// keep-alive client sends the same fields again and again (Host, User-Agent, Accept), and a
  /// field whose line is unchanged reuses its Strings instead of decoding (and often
  /// allocating) them again, ~150 instructions a field. Bounded: `rememberedFields` fields of at
  /// most `rememberedFieldBytes` bytes each (~1 KB a connection at most).
  private var remembered: [RememberedField] = []
  /// The previous request's headers when every one of its fields is in `remembered`, and its
  /// field section as sent (first name to last value): a request whose section is byte for
  /// byte the same shares them whole (one compare; no array, no per-field work).
  private var rememberedHeaders: HTTPHeaders? = nil
  private var rememberedSection: [UInt8] = []
  /// Storage for the parser's field ranges, kept from head to head.
  private var fieldRanges: [(name: ParsedHead.Range, value: ParsedHead.Range)] = []

  private struct RememberedField {
    /// The field line from the name's first byte to the value's last (`Host: example`).
    var line: [UInt8]
    var name: String
    var value: String
  }

  static let rememberedFields = 8
  static let rememberedFieldBytes = 128

  /// The most input a head may need: request line, fields and some slack for the CRLFs.
  static func ceiling(_ limits: HTTPLimits) -> Int {
    limits.maxRequestLineBytes + limits.maxHeaderBytes + 4096
  }

  /// True while a request has begun (head bytes, or a body) and is not complete.
  var isMidRequest: Bool { pending != nil || headStartedAt != 0 }

  /// Takes the next request from `input`. `now` stamps the head and body deadlines.
  mutating func next(
    _ input: inout InputBuffer, limits: HTTPLimits, budget: MemoryBudget, now: UInt64
  ) -> Event {
    while true {
      switch state {
      case .head:
        guard !input.isEmpty else { return .needMore }
        let bytes = input.readable
        switch RequestHeadParser.parse(bytes, limits: limits, fields: &fieldRanges) {
        case .incomplete:
          if headStartedAt == 0 { headStartedAt = now }
          return .needMore
        case .failure(let error):
          return .failure(error)
        case .complete(let head):
          headStartedAt = 0
          let request = makeRequest(head, bytes)
          input.consume(head.length)
          switch head.framing {
          case .none:
            return .request(request, keepAlive: head.keepAlive)
          case .length(let length):
            guard budget.reserveBody(length) else { return .failure(Self.busy) }
            reservedBodyBytes = length
            var request = request
            request.body.reserveCapacity(min(length, 16 * 1024))
            pending = (request, head.keepAlive)
            state = .body(remaining: length)
            bodyStartedAt = now
            continueRequested = head.expectContinue && input.count < length
          case .chunked:
            pending = (request, head.keepAlive)
            state = .chunked(ChunkedDecoder(limits: limits))
            bodyStartedAt = now
            continueRequested = head.expectContinue
          }
        }
      case .body(let remaining):
        let take = min(remaining, input.count)
        if take > 0 {
          pending?.request.body.append(contentsOf: UnsafeRawBufferPointer(rebasing: input.readable[..<take]))
          input.consume(take)
        }
        if remaining > take {
          state = .body(remaining: remaining - take)
          return .needMore
        }
        continueRequested = false
        return finishBody(budget: budget)
      case .chunked(var decoder):
        guard !input.isEmpty, var current = pending else { return .needMore }
        pending = nil  // the body is moved out while it grows, so it is not copied
        let outcome = decoder.decode(input.readable, into: &current.request.body)
        pending = current
        let grown = current.request.body.count - reservedBodyBytes
        if grown > 0 {
          guard budget.reserveBody(grown) else { return .failure(Self.busy) }
          reservedBodyBytes += grown
        }
        switch outcome {
        case .needMore:
          input.consume(input.count)
          state = .chunked(decoder)
          return .needMore
        case .done(let consumed):
          input.consume(consumed)
          continueRequested = false
          return finishBody(budget: budget)
        case .failure(let error):
          return .failure(error)
        }
      }
    }
  }

  private mutating func finishBody(budget: MemoryBudget) -> Event {
    state = .head
    bodyStartedAt = 0
    // The body now belongs to the handler, which answers it within the request's life; the
    // reservation only bounds bodies still being received.
    budget.releaseBody(reservedBodyBytes)
    reservedBodyBytes = 0
    guard let (request, keepAlive) = pending else { return .needMore }
    pending = nil
    return .request(request, keepAlive: keepAlive)
  }

  /// Drops a request being received (the connection is closing) and its reservation.
  mutating func abandon(budget: MemoryBudget) {
    budget.releaseBody(reservedBodyBytes)
    reservedBodyBytes = 0
    pending = nil
    state = .head
    headStartedAt = 0
    bodyStartedAt = 0
    continueRequested = false
  }

  /// The answer when the process-wide body budget is spent: try again shortly.
  static let busy = HTTPParseError(
    .serviceUnavailable, "the server is receiving too many request bodies; retry shortly")

  private mutating func makeRequest(_ head: ParsedHead, _ bytes: UnsafeRawBufferPointer) -> HTTPRequest {
    let method = HTTPMethod(
      bytes: UnsafeRawBufferPointer(rebasing: bytes[head.method.start..<head.method.end]))
    let headers = rememberedHeaders(for: head, bytes) ?? decodeHeaders(head, bytes)
    return HTTPRequest(method: method, target: Self.text(head.target, bytes), version: head.version, headers: headers)
  }

  private static func text(_ range: ParsedHead.Range, _ bytes: UnsafeRawBufferPointer) -> String {
    String(decoding: UnsafeRawBufferPointer(rebasing: bytes[range.start..<range.end]), as: UTF8.self)
  }

  /// The head's fields as Strings, reusing the remembered ones line by line, and remembering
  /// this request's (whole, when every line could be).
  private mutating func decodeHeaders(_ head: ParsedHead, _ bytes: UnsafeRawBufferPointer) -> HTTPHeaders {
    var headers = HTTPHeaders()
    headers.fields.reserveCapacity(head.fields.count)
    // Whether every field line is now the remembered one at its index.
    var allRemembered = head.fields.count <= Self.rememberedFields
    for (index, field) in head.fields.enumerated() {
      let line = UnsafeRawBufferPointer(rebasing: bytes[field.name.start..<field.value.end])
      if index < remembered.count, remembered[index].line.count == line.count,
        remembered[index].line.withUnsafeBytes({ memcmp($0.baseAddress!, line.baseAddress!, line.count) == 0 })
      {
        headers.fields.append((name: remembered[index].name, value: remembered[index].value))
        continue
      }
      let name = Self.text(field.name, bytes)
      let value = Self.text(field.value, bytes)
      headers.fields.append((name: name, value: value))
      guard index < Self.rememberedFields, line.count <= Self.rememberedFieldBytes, index <= remembered.count else {
        allRemembered = false
        continue
      }
      let kept = RememberedField(line: Array(line), name: name, value: value)
      if index < remembered.count { remembered[index] = kept } else { remembered.append(kept) }
    }
    // Remembered fields beyond this request's count belong to an earlier request.
    if allRemembered && remembered.count > head.fields.count {
      remembered.removeLast(remembered.count - head.fields.count)
    }
    rememberedHeaders = allRemembered ? headers : nil
    rememberedSection.removeAll(keepingCapacity: true)
    if allRemembered { rememberedSection.append(contentsOf: Self.fieldSection(head, bytes)) }
    return headers
  }

  /// The previous request's headers when this head's field section is byte for byte the same.
  private func rememberedHeaders(for head: ParsedHead, _ bytes: UnsafeRawBufferPointer) -> HTTPHeaders? {
    guard let headers = rememberedHeaders, headers.count == head.fields.count else { return nil }
    let section = Self.fieldSection(head, bytes)
    guard section.count == rememberedSection.count else { return nil }
    if section.isEmpty { return headers }
    let same = rememberedSection.withUnsafeBytes { memcmp($0.baseAddress!, section.baseAddress!, section.count) == 0 }
    return same ? headers : nil
  }

  /// The head's field lines as sent: from the first field's name to the last one's value.
  private static func fieldSection(_ head: ParsedHead, _ bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
    guard let first = head.fields.first, let last = head.fields.last else {
      return UnsafeRawBufferPointer(start: nil, count: 0)
    }
    return UnsafeRawBufferPointer(rebasing: bytes[first.name.start..<last.value.end])
  }
}
