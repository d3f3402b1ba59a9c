@testable import HTTPCore

/// What a test expects the parser to do with an input.
enum Expected: Equatable {
  case request(method: String, target: String, framing: BodyFraming, keepAlive: Bool)
  case status(Int)
  case incomplete
}

/// Parses `text` (bytes) whole, and also fed one byte at a time, and checks both agree.
func parseHead(_ bytes: [UInt8], limits: HTTPLimits = HTTPLimits()) -> (Expected, ParsedHead?) {
  let result = bytes.withUnsafeBytes { RequestHeadParser.parse($0, limits: limits) }
  switch result {
  case .incomplete: return (.incomplete, nil)
  case .failure(let error): return (.status(error.status.code), nil)
  case .complete(let head):
    let method = String(decoding: bytes[head.method.start..<head.method.end], as: UTF8.self)
    let target = String(decoding: bytes[head.target.start..<head.target.end], as: UTF8.self)
    return (.request(method: method, target: target, framing: head.framing, keepAlive: head.keepAlive), head)
  }
}

/// Feeds the bytes one at a time, the way a slow client would: every prefix must be
/// `.incomplete` (or already the final error), and the whole must give `expected`.
func parseByteByByte(_ bytes: [UInt8], limits: HTTPLimits = HTTPLimits()) -> Expected {
  for end in 1...bytes.count {
    let (outcome, _) = parseHead(Array(bytes[0..<end]), limits: limits)
    if outcome != .incomplete { return outcome }
  }
  return .incomplete
}

extension String {
  var bytes: [UInt8] { Array(utf8) }
}
