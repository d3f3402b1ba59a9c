import Codecs

#if canImport(Glibc)
  import Glibc
#endif

/// Writes HTTP/1.1 responses into a byte buffer without intermediate strings.
enum ResponseSerializer {
  /// Appends the status line, fields and (unless `omitBody`) the body of `response`.
  static func append(
    _ response: HTTPResponse, to output: inout [UInt8], keepAlive: Bool, version: HTTPVersion,
    omitBody: Bool, date: DateCache
  ) {
    appendHead(
      status: response.status, headers: response.headers, contentLength: response.body.count, to: &output,
      keepAlive: keepAlive, version: version, date: date)
    if !omitBody && hasBody(response.status) { output.append(contentsOf: response.body) }
  }

  /// Appends a response to a connection's output queue: the head (and a small body) by copy, a
  /// large body by reference.
  static func append(
    _ response: HTTPResponse, to output: inout OutputQueue, keepAlive: Bool, version: HTTPVersion,
    omitBody: Bool, date: DateCache
  ) {
    let sendBody = !omitBody && hasBody(response.status)
    let large = sendBody && response.body.count >= OutputQueue.largeBodyBytes
    output.appendInPlace { buffer in
      appendHead(
        status: response.status, headers: response.headers, contentLength: response.body.count, to: &buffer,
        keepAlive: keepAlive, version: version, date: date)
      if sendBody && !large { buffer.append(contentsOf: response.body) }
    }
    if large { output.append(response.body) }
  }

  static func hasBody(_ status: HTTPStatus) -> Bool {
    !(status.code < 200 || status.code == 204 || status.code == 304)
  }

  static func appendHead(
    status: HTTPStatus, headers: HTTPHeaders, contentLength: Int, to output: inout [UInt8], keepAlive: Bool,
    version: HTTPVersion, date: DateCache
  ) {
    output.append(contentsOf: "HTTP/1.1 ".utf8)
    appendDecimal(status.code, to: &output)
    output.append(.space)
    output.append(contentsOf: status.reason.utf8)
    output.append(contentsOf: "\r\n".utf8)
    for field in headers.fields {
      // The server owns framing and connection management. (By length first: most fields have
      // none of these lengths, and this runs for every field of every response.)
      switch field.name.utf8.count {
      case 14: if ASCII.equalsIgnoringCase(field.name, "content-length") { continue }
      case 10: if ASCII.equalsIgnoringCase(field.name, "connection") { continue }
      case 17: if ASCII.equalsIgnoringCase(field.name, "transfer-encoding") { continue }
      case 4: if ASCII.equalsIgnoringCase(field.name, "date") { continue }
      default: break
      }
      output.append(contentsOf: field.name.utf8)
      output.append(contentsOf: ": ".utf8)
      output.append(contentsOf: field.value.utf8)
      output.append(contentsOf: "\r\n".utf8)
    }
    if status.code >= 200 && status.code != 204 && status.code != 304 {
      output.append(contentsOf: "Content-Length: ".utf8)
      appendDecimal(contentLength, to: &output)
      output.append(contentsOf: "\r\n".utf8)
    }
    if !keepAlive {
      output.append(contentsOf: "Connection: close\r\n".utf8)
    } else if version == .http1_0 {
      output.append(contentsOf: "Connection: keep-alive\r\n".utf8)
    }
    date.append(to: &output)
    output.append(contentsOf: "\r\n".utf8)
  }

  @inline(__always)
  static func appendDecimal(_ value: Int, to output: inout [UInt8]) {
    if value < 10 {
      output.append(UInt8(ascii: "0") + UInt8(value))
      return
    }
    var digits:
      (
        UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
        UInt8, UInt8, UInt8, UInt8
      ) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    var remaining = value
    var count = 0
    withUnsafeMutableBytes(of: &digits) { raw in
      while remaining > 0 && count < 20 {
        raw[19 - count] = UInt8(ascii: "0") + UInt8(remaining % 10)
        remaining /= 10
        count += 1
      }
      output.append(contentsOf: raw[(20 - count)...])
    }
  }
}

/// The `Date` header line, formatted once per second (RFC 9110 §5.6.7 IMF-fixdate).
public final class DateCache {
  private var second: Int = -1
  private var line: [UInt8] = []
  private var text = ""

  public init() {}

  /// Appends `Date: <IMF-fixdate>\r\n`.
  func append(to output: inout [UInt8]) {
    let now = time(nil)
    if now != second { refresh(now) }
    output.append(contentsOf: line)
  }

  /// The IMF-fixdate alone (for HTTP/2's `date` field).
  var value: String {
    let now = time(nil)
    if now != second { refresh(now) }
    return text
  }

  private func refresh(_ now: Int) {
    second = now
    var seconds = time_t(now)
    var parts = tm()
    gmtime_r(&seconds, &parts)
    let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
    let text =
      "Date: \(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) "
      + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT\r\n"
    line = Array(text.utf8)
    self.text = String(text.dropFirst(6).dropLast(2))
  }
}
