import Codecs

#if canImport(Glibc)
  import Glibc
#endif

/// How the body of a request is delimited (RFC 9112 §6.3).
public enum BodyFraming: Equatable, Sendable {
  case none
  case length(Int)
  case chunked
}

/// The request line and header fields of one request, as byte ranges into the parsed buffer,
/// plus everything the connection needs to frame and answer it.
struct ParsedHead {
  struct Range {
    var start: Int
    var end: Int
  }
  var method: Range = .init(start: 0, end: 0)
  var target: Range = .init(start: 0, end: 0)
  var version: HTTPVersion = .http1_1
  /// Each header field's name and value (one array, which a reader reuses from request to
  /// request).
  var fields: [(name: Range, value: Range)] = []
  /// Bytes the head occupies, including the empty line that ends it.
  var length = 0
  var framing: BodyFraming = .none
  var keepAlive = true
  var expectContinue = false
}

/// The outcome of parsing a request head.
enum HeadParseResult {
  /// The head is not complete yet: read more.
  case incomplete
  case complete(ParsedHead)
  case failure(HTTPParseError)
}

/// A strict, stateless HTTP/1.1 request-head parser over a byte buffer, in the manner of
/// picohttpparser: it either finds a whole head, asks for more bytes, or names the error. Nothing
/// is copied; the result holds byte ranges. Call it again from the start when more bytes arrive
/// (heads are bounded by the limits, so re-scanning is cheap and keeps the parser stateless).
///
/// Strictness is deliberate (RFC 9112): lines must end in CRLF, bare CR and obs-fold are errors,
/// field names may not be followed by whitespace, and every framing ambiguity that could enable
/// request smuggling is refused.
enum RequestHeadParser {
  static func parse(_ buffer: UnsafeRawBufferPointer, limits: HTTPLimits) -> HeadParseResult {
    var fields: [(name: ParsedHead.Range, value: ParsedHead.Range)] = []
    return parse(buffer, limits: limits, fields: &fields)
  }

  /// Parses with `fields` as the storage of the field ranges: a reader that keeps it between
  /// requests (and has dropped the previous head) parses without allocating. A complete head
  /// shares it.
  static func parse(
    _ buffer: UnsafeRawBufferPointer, limits: HTTPLimits,
    fields: inout [(name: ParsedHead.Range, value: ParsedHead.Range)]
  ) -> HeadParseResult {
    guard let base = buffer.baseAddress?.assumingMemoryBound(to: UInt8.self), buffer.count > 0
    else { return .incomplete }
    let count = buffer.count
    var position = 0
    // RFC 9112 §2.2: ignore at least one empty line before the request line.
    var skipped = 0
    while position + 1 < count, base[position] == .cr, base[position + 1] == .lf, skipped < 4 {
      position += 2
      skipped += 1
    }
    // Request line.
    let lineStart = position
    guard let lineFeed = findLineFeed(base, from: position, to: count) else {
      if count - lineStart > limits.maxRequestLineBytes {
        return .failure(HTTPParseError(.uriTooLong, "request line longer than \(limits.maxRequestLineBytes) bytes"))
      }
      return .incomplete
    }
    if lineFeed - lineStart > limits.maxRequestLineBytes {
      return .failure(HTTPParseError(.uriTooLong, "request line longer than \(limits.maxRequestLineBytes) bytes"))
    }
    var head = ParsedHead()
    if let error = parseRequestLine(base, start: lineStart, lineFeed: lineFeed, into: &head) {
      return .failure(error)
    }
    position = lineFeed + 1

    // Header fields.
    let headersStart = position
    var contentLength: Int? = nil
    var transferEncodings: [Substring] = []
    var sawTransferEncoding = false
    var hostCount = 0
    var connectionClose = false
    var connectionKeepAlive = false
    fields.removeAll(keepingCapacity: true)
    fields.reserveCapacity(8)
    while true {
      guard let lineFeed = findLineFeed(base, from: position, to: count) else {
        if count - headersStart > limits.maxHeaderBytes {
          return .failure(tooLarge(limits))
        }
        return .incomplete
      }
      if lineFeed - headersStart > limits.maxHeaderBytes { return .failure(tooLarge(limits)) }
      guard lineFeed > position, base[lineFeed - 1] == .cr else {
        return .failure(HTTPParseError(.badRequest, "header line not ended by CRLF"))
      }
      let lineEnd = lineFeed - 1
      if lineEnd == position {  // the empty line: end of the head
        position = lineFeed + 1
        break
      }
      let first = base[position]
      if first == .space || first == .tab {
        return .failure(HTTPParseError(.badRequest, "obsolete line folding in a header field"))
      }
      // Field name: a token, then the colon with no whitespace before it.
      var cursor = position
      while cursor < lineEnd, ByteClass.isToken(base[cursor]) { cursor += 1 }
      guard cursor > position else {
        return .failure(HTTPParseError(.badRequest, "header field with an empty or invalid name"))
      }
      guard cursor < lineEnd, base[cursor] == .colon else {
        if base[cursor] == .space || base[cursor] == .tab {
          return .failure(HTTPParseError(.badRequest, "whitespace between a header field name and its colon"))
        }
        return .failure(HTTPParseError(.badRequest, "invalid character in a header field name"))
      }
      let name = ParsedHead.Range(start: position, end: cursor)
      cursor += 1
      while cursor < lineEnd, base[cursor] == .space || base[cursor] == .tab { cursor += 1 }
      let valueStart = cursor
      var valueEnd = lineEnd
      for index in valueStart..<lineEnd where !ByteClass.isFieldValue(base[index]) {
        return .failure(
          HTTPParseError(
            .badRequest, base[index] == .cr ? "bare CR in a header field" : "invalid character in a header field value")
        )
      }
      while valueEnd > valueStart, base[valueEnd - 1] == .space || base[valueEnd - 1] == .tab { valueEnd -= 1 }
      let value = ParsedHead.Range(start: valueStart, end: valueEnd)
      if fields.count == limits.maxHeaderCount {
        return .failure(
          HTTPParseError(.requestHeaderFieldsTooLarge, "more than \(limits.maxHeaderCount) header fields"))
      }
      fields.append((name, value))

      // Fields that decide framing and connection handling.
      switch name.end - name.start {
      case 4 where matches(base, name, "host"):
        hostCount += 1
      case 6 where matches(base, name, "expect"):
        if head.version == .http1_1 {
          guard matches(base, value, "100-continue") else {
            return .failure(HTTPParseError(.expectationFailed, "unsupported expectation"))
          }
          head.expectContinue = true
        }
      case 10 where matches(base, name, "connection"):
        forEachListElement(base, value) { element in
          if matches(base, element, "close") { connectionClose = true }
          if matches(base, element, "keep-alive") { connectionKeepAlive = true }
        }
      case 14 where matches(base, name, "content-length"):
        var failure: HTTPParseError? = nil
        var elements = 0
        forEachListElement(base, value) { element in
          elements += 1
          guard failure == nil else { return }
          guard let length = parseDecimal(base, element) else {
            failure = HTTPParseError(.badRequest, "invalid Content-Length")
            return
          }
          if let existing = contentLength, existing != length {
            failure = HTTPParseError(.badRequest, "conflicting Content-Length values")
          }
          contentLength = length
        }
        if let failure { return .failure(failure) }
        // Every Content-Length field must hold a value, not only the first one seen.
        if elements == 0 { return .failure(HTTPParseError(.badRequest, "empty Content-Length")) }
      case 17 where matches(base, name, "transfer-encoding"):
        sawTransferEncoding = true
        forEachListElement(base, value) { element in
          transferEncodings.append(
            Substring(
              String(
                decoding: UnsafeRawBufferPointer(start: base + element.start, count: element.end - element.start),
                as: UTF8.self)))
        }
      default:
        break
      }
      position = lineFeed + 1
    }
    head.length = position

    // Framing (RFC 9112 §6): refuse anything a proxy could read differently.
    if sawTransferEncoding {
      if head.version == .http1_0 {
        return .failure(HTTPParseError(.badRequest, "Transfer-Encoding in an HTTP/1.0 request"))
      }
      if contentLength != nil {
        return .failure(HTTPParseError(.badRequest, "both Content-Length and Transfer-Encoding"))
      }
      guard let last = transferEncodings.last, last.lowercased() == "chunked" else {
        return .failure(HTTPParseError(.badRequest, "Transfer-Encoding whose final coding is not chunked"))
      }
      let chunkedCount = transferEncodings.filter { $0.lowercased() == "chunked" }.count
      if chunkedCount > 1 {
        return .failure(HTTPParseError(.badRequest, "chunked applied more than once"))
      }
      if transferEncodings.count > 1 {
        return .failure(HTTPParseError(.notImplemented, "unsupported transfer coding"))
      }
      head.framing = .chunked
    } else if let contentLength {
      if contentLength > limits.maxBodyBytes {
        return .failure(HTTPParseError(.contentTooLarge, "body larger than \(limits.maxBodyBytes) bytes"))
      }
      head.framing = contentLength > 0 ? .length(contentLength) : .none
    }
    if head.version == .http1_1 && hostCount != 1 {
      return .failure(HTTPParseError(.badRequest, hostCount == 0 ? "missing Host header" : "more than one Host header"))
    }
    if head.version == .http1_0 && hostCount > 1 {
      return .failure(HTTPParseError(.badRequest, "more than one Host header"))
    }
    if head.framing == .none { head.expectContinue = false }
    head.keepAlive = head.version == .http1_1 ? !connectionClose : (connectionKeepAlive && !connectionClose)
    head.fields = fields
    return .complete(head)
  }

  private static func tooLarge(_ limits: HTTPLimits) -> HTTPParseError {
    HTTPParseError(.requestHeaderFieldsTooLarge, "header block larger than \(limits.maxHeaderBytes) bytes")
  }

  /// Parses `method SP request-target SP HTTP-version` ending at `lineFeed`.
  private static func parseRequestLine(
    _ base: UnsafePointer<UInt8>, start: Int, lineFeed: Int, into head: inout ParsedHead
  ) -> HTTPParseError? {
    guard lineFeed > start, base[lineFeed - 1] == .cr else {
      return HTTPParseError(.badRequest, "request line not ended by CRLF")
    }
    let end = lineFeed - 1
    var cursor = start
    while cursor < end, ByteClass.isToken(base[cursor]) { cursor += 1 }
    guard cursor > start, cursor < end, base[cursor] == .space else {
      return HTTPParseError(.badRequest, "malformed method in the request line")
    }
    head.method = .init(start: start, end: cursor)
    cursor += 1
    let targetStart = cursor
    while cursor < end, ByteClass.isTarget(base[cursor]) { cursor += 1 }
    guard cursor > targetStart, cursor < end, base[cursor] == .space else {
      return HTTPParseError(.badRequest, "malformed request target")
    }
    head.target = .init(start: targetStart, end: cursor)
    cursor += 1
    // HTTP-version = "HTTP/" DIGIT "." DIGIT
    guard end - cursor == 8,
      base[cursor] == UInt8(ascii: "H"), base[cursor + 1] == UInt8(ascii: "T"),
      base[cursor + 2] == UInt8(ascii: "T"), base[cursor + 3] == UInt8(ascii: "P"),
      base[cursor + 4] == UInt8(ascii: "/"), base[cursor + 6] == UInt8(ascii: "."),
      isDigit(base[cursor + 5]), isDigit(base[cursor + 7])
    else {
      return HTTPParseError(.badRequest, "malformed HTTP version")
    }
    guard base[cursor + 5] == UInt8(ascii: "1") else {
      return HTTPParseError(.httpVersionNotSupported, "only HTTP/1.0 and HTTP/1.1 are supported")
    }
    // RFC 9110 §2.5: a higher 1.x minor version is treated as the highest we support.
    head.version = base[cursor + 7] == UInt8(ascii: "0") ? .http1_0 : .http1_1
    return nil
  }

  @inline(__always)
  private static func isDigit(_ byte: UInt8) -> Bool {
    byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
  }

  /// The index of the next LF in `[from, to)`, found with memchr.
  @inline(__always)
  static func findLineFeed(_ base: UnsafePointer<UInt8>, from: Int, to: Int) -> Int? {
    guard from < to, let found = memchr(base + from, Int32(UInt8.lf), to - from) else { return nil }
    return base.distance(to: found.assumingMemoryBound(to: UInt8.self))
  }

  /// ASCII case-insensitive comparison of a range with a lowercase literal.
  @inline(__always)
  static func matches(_ base: UnsafePointer<UInt8>, _ range: ParsedHead.Range, _ lowercase: StaticString) -> Bool {
    ASCII.equalsIgnoringCase(
      UnsafeRawBufferPointer(start: base + range.start, count: range.end - range.start), lowercase)
  }

  /// Calls `body` with each non-empty element of a comma-separated list, trimmed of OWS.
  static func forEachListElement(
    _ base: UnsafePointer<UInt8>, _ range: ParsedHead.Range, _ body: (ParsedHead.Range) -> Void
  ) {
    var start = range.start
    while start <= range.end {
      var end = start
      while end < range.end, base[end] != UInt8(ascii: ",") { end += 1 }
      var elementStart = start
      var elementEnd = end
      while elementStart < elementEnd, base[elementStart] == .space || base[elementStart] == .tab { elementStart += 1 }
      while elementEnd > elementStart, base[elementEnd - 1] == .space || base[elementEnd - 1] == .tab {
        elementEnd -= 1
      }
      if elementEnd > elementStart { body(.init(start: elementStart, end: elementEnd)) }
      start = end + 1
    }
  }

  /// 1*DIGIT as an Int, refusing signs, spaces and anything that could overflow.
  static func parseDecimal(_ base: UnsafePointer<UInt8>, _ range: ParsedHead.Range) -> Int? {
    let length = range.end - range.start
    guard length > 0, length <= 18 else { return nil }
    var value = 0
    for index in range.start..<range.end {
      let byte = base[index]
      guard isDigit(byte) else { return nil }
      value = value * 10 + Int(byte - UInt8(ascii: "0"))
    }
    return value
  }
}
