import Codecs

/// The tokens of RFC 8259 JSON read straight from request bytes: the one lexer under every
/// request body decoder of ours (`/predict`, `POST /features`). Strings are validated UTF-8 with
/// their escapes resolved; numbers follow the RFC grammar and are converted exactly; nesting is
/// bounded. Every error carries the byte offset where it was found.
struct JSONScanner {
  /// Why the bytes are not the JSON expected, and where.
  struct SyntaxError: Error, CustomStringConvertible {
    let message: String
    let offset: Int
    var description: String { "body is not valid JSON: \(message) at byte \(offset)" }
  }

  /// The deepest nesting accepted inside a value that is skipped.
  static let maxDepth = 32

  let buffer: UnsafeBufferPointer<UInt8>
  var position = 0

  init(_ buffer: UnsafeBufferPointer<UInt8>) {
    self.buffer = buffer
  }

  var atEnd: Bool { position >= buffer.count }

  func peek() -> UInt8? { position < buffer.count ? buffer[position] : nil }

  func error(_ message: String) -> SyntaxError {
    SyntaxError(message: atEnd ? "unexpected end (\(message))" : message, offset: position)
  }

  mutating func skipWhitespace() {
    while position < buffer.count {
      switch buffer[position] {
      case 0x20, 0x09, 0x0A, 0x0D: position += 1
      default: return
      }
    }
  }

  /// Skips whitespace, then requires `byte`.
  mutating func expect(_ byte: UInt8, _ what: String) throws {
    skipWhitespace()
    guard peek() == byte else { throw error("expected \(what)") }
    position += 1
  }

  /// Skips whitespace; if the next byte is `byte`, takes it and returns true.
  mutating func take(_ byte: UInt8) -> Bool {
    skipWhitespace()
    guard peek() == byte else { return false }
    position += 1
    return true
  }

  /// The whole input must have been read (trailing whitespace allowed).
  mutating func expectEnd() throws {
    skipWhitespace()
    guard atEnd else { throw error("unexpected bytes after the object") }
  }

  mutating func literal(_ text: StaticString) throws {
    let count = text.utf8CodeUnitCount
    guard position + count <= buffer.count else { throw error("bad literal") }
    for offset in 0..<count where buffer[position + offset] != text.utf8Start[offset] {
      throw error("bad literal")
    }
    position += count
  }

  /// A number by the RFC 8259 grammar, and whether it was written as an integer.
  mutating func number() throws -> (value: Double, isInteger: Bool) {
    let start = position
    var isInteger = true
    if peek() == UInt8(ascii: "-") { position += 1 }
    guard let first = peek(), first >= 48 && first <= 57 else { throw error("bad number") }
    if first == 48 {
      position += 1
    } else {
      digits()
    }
    if peek() == UInt8(ascii: ".") {
      isInteger = false
      position += 1
      guard digits() > 0 else { throw error("bad number") }
    }
    if let exponent = peek(), exponent == UInt8(ascii: "e") || exponent == UInt8(ascii: "E") {
      isInteger = false
      position += 1
      if let sign = peek(), sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") { position += 1 }
      guard digits() > 0 else { throw error("bad number") }
    }
    if isInteger && position - start <= 15 {  // exact in a Double; no text conversion
      var value: Int64 = 0
      for index in start..<position where buffer[index] != UInt8(ascii: "-") {
        value = value * 10 + Int64(buffer[index] - 48)
      }
      return (Double(buffer[start] == UInt8(ascii: "-") ? -value : value), true)
    }
    let text = UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: buffer[start..<position]))
    guard let number = DecimalText.double(text) else { throw SyntaxError(message: "bad number", offset: start) }
    return (number, isInteger)
  }

  /// A number, and its exact value when it is written as an integer that fits an Int64 (ids
  /// beyond 2^53 lose nothing on the way).
  mutating func numberKeepingInteger() throws -> (value: Double, integer: Int64?) {
    let start = position
    let (value, isInteger) = try number()
    guard isInteger else { return (value, nil) }
    let text = UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: buffer[start..<position]))
    return (value, DecimalText.int64(text))
  }

  @discardableResult
  private mutating func digits() -> Int {
    let start = position
    while let byte = peek(), byte >= 48 && byte <= 57 { position += 1 }
    return position - start
  }

  /// A string; the scanner stands on its opening quote.
  mutating func string() throws -> String {
    guard peek() == UInt8(ascii: "\"") else { throw error("expected a string") }
    position += 1
    let start = position
    var sawNonASCII = false
    // Fast path: no escapes.
    while position < buffer.count {
      let byte = buffer[position]
      if byte == UInt8(ascii: "\"") {
        let slice = UnsafeBufferPointer(rebasing: buffer[start..<position])
        position += 1
        // ASCII (the usual case) is valid UTF-8 as it stands; the validating initializer costs
        // a generic-metadata lookup per call.
        if !sawNonASCII { return String(decoding: slice, as: UTF8.self) }
        guard let text = String(validating: slice, as: UTF8.self) else {
          throw SyntaxError(message: "string is not valid UTF-8", offset: start)
        }
        return text
      }
      if byte == UInt8(ascii: "\\") { break }
      if byte < 0x20 { throw error("control character in string") }
      if byte >= 0x80 { sawNonASCII = true }
      position += 1
    }
    var scalars = Array(buffer[start..<position])
    while true {
      guard let byte = peek() else { throw error("unterminated string") }
      position += 1
      switch byte {
      case UInt8(ascii: "\""):
        guard let text = String(validating: scalars, as: UTF8.self) else {
          throw SyntaxError(message: "string is not valid UTF-8", offset: start)
        }
        return text
      case UInt8(ascii: "\\"):
        guard let escape = peek() else { throw error("unterminated string") }
        position += 1
        switch escape {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): scalars.append(escape)
        case UInt8(ascii: "b"): scalars.append(0x08)
        case UInt8(ascii: "f"): scalars.append(0x0C)
        case UInt8(ascii: "n"): scalars.append(0x0A)
        case UInt8(ascii: "r"): scalars.append(0x0D)
        case UInt8(ascii: "t"): scalars.append(0x09)
        case UInt8(ascii: "u"):
          var code = try hex4()
          if (0xD800...0xDBFF).contains(code) {
            guard peek() == UInt8(ascii: "\\"), position + 1 < buffer.count, buffer[position + 1] == UInt8(ascii: "u")
            else { throw error("unpaired surrogate") }
            position += 2
            let low = try hex4()
            guard (0xDC00...0xDFFF).contains(low) else { throw error("unpaired surrogate") }
            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
          } else if (0xDC00...0xDFFF).contains(code) {
            throw error("unpaired surrogate")
          }
          guard let scalar = Unicode.Scalar(code) else { throw error("bad \\u escape") }
          scalars.append(contentsOf: Array(String(Character(scalar)).utf8))
        default: throw error("bad escape")
        }
      case 0..<0x20: throw error("control character in string")
      default: scalars.append(byte)
      }
    }
  }

  private mutating func hex4() throws -> UInt32 {
    guard position + 4 <= buffer.count else { throw error("bad \\u escape") }
    var code: UInt32 = 0
    for _ in 0..<4 {
      let digit = ASCII.hexValue(buffer[position])
      guard digit >= 0 else { throw error("bad \\u escape") }
      code = code << 4 | UInt32(digit)
      position += 1
    }
    return code
  }

  /// Skips any value (checking its syntax), `depth` levels deep already.
  mutating func skipValue(depth: Int) throws {
    skipWhitespace()
    guard let byte = peek() else { throw error("expected a value") }
    switch byte {
    case UInt8(ascii: "\""): _ = try string()
    case UInt8(ascii: "t"): try literal("true")
    case UInt8(ascii: "f"): try literal("false")
    case UInt8(ascii: "n"): try literal("null")
    case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): _ = try number()
    case UInt8(ascii: "{"), UInt8(ascii: "["): try skipContainer(depth: depth + 1)
    default: throw error("unexpected character")
    }
  }

  /// Skips a nested object or array, checking its syntax.
  private mutating func skipContainer(depth: Int) throws {
    guard depth <= JSONScanner.maxDepth else { throw error("nested too deeply") }
    let isObject = buffer[position] == UInt8(ascii: "{")
    let close = isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")
    position += 1
    if take(close) { return }
    while true {
      skipWhitespace()
      if isObject {
        _ = try string()
        try expect(UInt8(ascii: ":"), "':'")
      }
      try skipValue(depth: depth)
      if take(UInt8(ascii: ",")) { continue }
      skipWhitespace()
      guard peek() == close else { throw error(isObject ? "expected ',' or '}'" : "expected ',' or ']'") }
      position += 1
      return
    }
  }
}

/// Member names seen in one JSON object, to refuse a repeated one in linear time: a short list
/// is scanned (the usual handful of members), a long one is hashed.
struct MemberNames {
  private var list: [String] = []
  private var set: Set<String> = []

  /// Adds `name`; false when it was already there.
  mutating func insert(_ name: String) -> Bool {
    if set.isEmpty {
      if list.contains(name) { return false }
      if list.isEmpty { list.reserveCapacity(16) }  // one allocation, not one per doubling
      list.append(name)
      if list.count > 16 {
        set = Set(list)
        list = []
      }
      return true
    }
    return set.insert(name).inserted
  }
}
