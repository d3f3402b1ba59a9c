import Codecs

/// A task as each request needs it: the parts of its HTTP/1.1 request that never change, as
/// bytes encoded once per loop (appending a String's UTF-8 view costs more than the whole
/// template), and its templates. A class, so that a request takes one reference to it instead
/// of copying the task's strings and arrays (a retain and release each).
final class RequestParts {
  /// "GET "
  let methodAndSpace: [UInt8]
  /// " HTTP/1.1\r\nHost: <host>\r\n"
  let versionAndHost: [UInt8]
  /// "<name>: " for each header, in the task's order.
  let headerPrefixes: [[UInt8]]
  /// HEAD: the answer has no body whatever its length fields say.
  let isHead: Bool
  let path: Template
  let headerValues: [Template]
  let body: Template?
  let expectedStatus: Int?
  /// The whole request, when nothing in it varies (no variables anywhere): sent as it is.
  let constantRequest: [UInt8]?

  static let lineEnd: [UInt8] = [0x0D, 0x0A]
  static let headEnd: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A]
  static let contentLength = Array("Content-Length: ".utf8)

  init(task: RequestTask, hostHeader: String) {
    methodAndSpace = Array((task.method + " ").utf8)
    isHead = task.method == "HEAD"
    path = task.path
    headerValues = task.headers.map(\.value)
    body = task.body
    expectedStatus = task.expectedStatus
    versionAndHost = Array(" HTTP/1.1\r\nHost: \(hostHeader)\r\n".utf8)
    headerPrefixes = task.headers.map { Array(($0.name + ": ").utf8) }
    let constant =
      task.path.isConstant && task.headers.allSatisfy(\.value.isConstant) && (task.body?.isConstant ?? true)
    constantRequest = constant ? Self.literalRequest(task, versionAndHost, headerPrefixes) : nil
  }

  private static func literalRequest(_ task: RequestTask, _ versionAndHost: [UInt8], _ headerPrefixes: [[UInt8]])
    -> [UInt8]
  {
    var random = FastRandom(seed: 1)  // unused: a constant template draws nothing
    var bytes = Array((task.method + " ").utf8)
    task.path.render(into: &bytes, generators: [], random: &random, user: 0, counter: 0)
    bytes += versionAndHost
    for (index, header) in task.headers.enumerated() {
      bytes += headerPrefixes[index]
      header.value.render(into: &bytes, generators: [], random: &random, user: 0, counter: 0)
      bytes += lineEnd
    }
    if let template = task.body {
      var body: [UInt8] = []
      template.render(into: &body, generators: [], random: &random, user: 0, counter: 0)
      bytes += contentLength
      DecimalDigits.append(Int64(body.count), to: &bytes)
      bytes += headEnd + body
    } else {
      bytes += lineEnd
    }
    return bytes
  }

}
