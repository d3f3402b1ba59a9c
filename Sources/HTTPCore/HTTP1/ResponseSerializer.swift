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
    output.append(contentsOf: status.http1StatusLine)
    if let lines = headers.http1Lines {
      output.append(contentsOf: lines)
    } else {
      appendFieldLines(headers, to: &output)
    }
    if status.code >= 200 && status.code != 204 && status.code != 304 {
      output.append(literal: "Content-Length: ")
      DecimalDigits.append(contentLength, to: &output)
      output.append(literal: "\r\n")
    }
    if !keepAlive {
      output.append(literal: "Connection: close\r\n")
    } else if version == .http1_0 {
      output.append(literal: "Connection: keep-alive\r\n")
    }
    date.append(to: &output)
    output.append(literal: "\r\n")
  }

  /// `Name: value\r\n` for each field, leaving out the ones the server owns (framing, connection
  /// management and Date).
  static func appendFieldLines(_ headers: HTTPHeaders, to output: inout [UInt8]) {
    for field in headers.fields {
      // By length first: most fields have none of these lengths.
      switch field.name.utf8.count {
      case 14: if ASCII.equalsIgnoringCase(field.name, "content-length") { continue }
      case 10: if ASCII.equalsIgnoringCase(field.name, "connection") { continue }
      case 17: if ASCII.equalsIgnoringCase(field.name, "transfer-encoding") { continue }
      case 4: if ASCII.equalsIgnoringCase(field.name, "date") { continue }
      default: break
      }
      output.append(contentsOf: field.name.utf8)
      output.append(literal: ": ")
      output.append(contentsOf: field.value.utf8)
      output.append(literal: "\r\n")
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
