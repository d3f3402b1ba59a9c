/// A JSON object's members with scalar values, parsed straight from request bytes: the
/// `/predict` hot path's decoder (Foundation's decoders cost more than the whole prediction).
/// Nested objects and arrays are checked and kept only as `.nested`, so a field of the wrong
/// shape gets a precise 400.
struct FlatJSONObject {
  enum Value: Equatable {
    case string(String)
    case number(Double, isInteger: Bool)
    case bool(Bool)
    case null
    case nested
  }

  struct SyntaxError: Error, CustomStringConvertible {
    let message: String
    let offset: Int
    var description: String { "body is not valid JSON: \(message) at byte \(offset)" }
  }

  /// Members in body order.
  private(set) var members: [(name: String, value: Value)] = []

  /// The value of member `name`; nil when absent.
  subscript(name: String) -> Value? {
    for member in members where member.name == name { return member.value }
    return nil
  }

  /// The deepest nesting accepted inside a member's value.
  static let maxDepth = 32

  /// Parses `bytes`, which must hold exactly one JSON object (whitespace around it allowed).
  init(parsing bytes: [UInt8]) throws {
    var parser = Parser()
    try bytes.withUnsafeBufferPointer { buffer in
      parser.buffer = buffer
      parser.skipWhitespace()
      guard parser.peek() == UInt8(ascii: "{") else {
        throw parser.error(parser.atEnd ? "empty body; expected a JSON object" : "expected a JSON object")
      }
      parser.position += 1
      parser.skipWhitespace()
      if parser.peek() == UInt8(ascii: "}") {
        parser.position += 1
      } else {
        while true {
          parser.skipWhitespace()
          guard parser.peek() == UInt8(ascii: "\"") else { throw parser.error("expected a member name") }
          let name = try parser.string()
          if members.contains(where: { $0.name == name }) {
            throw SyntaxError(message: "member '\(name)' appears twice", offset: parser.position)
          }
          parser.skipWhitespace()
          guard parser.peek() == UInt8(ascii: ":") else { throw parser.error("expected ':'") }
          parser.position += 1
          parser.skipWhitespace()
          members.append((name, try parser.value(depth: 0)))
          parser.skipWhitespace()
          if parser.peek() == UInt8(ascii: ",") {
            parser.position += 1
            continue
          }
          guard parser.peek() == UInt8(ascii: "}") else { throw parser.error("expected ',' or '}'") }
          parser.position += 1
          break
        }
      }
      parser.skipWhitespace()
      guard parser.atEnd else { throw parser.error("unexpected bytes after the object") }
    }
  }

  private struct Parser {
    var buffer = UnsafeBufferPointer<UInt8>(start: nil, count: 0)
    var position = 0

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

    mutating func value(depth: Int) throws -> Value {
      guard let byte = peek() else { throw error("expected a value") }
      switch byte {
      case UInt8(ascii: "\""): return .string(try string())
      case UInt8(ascii: "t"): try literal("true"); return .bool(true)
      case UInt8(ascii: "f"): try literal("false"); return .bool(false)
      case UInt8(ascii: "n"): try literal("null"); return .null
      case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
      case UInt8(ascii: "{"), UInt8(ascii: "["):
        try skipContainer(depth: depth + 1)
        return .nested
      default: throw error("unexpected character")
      }
    }

    mutating func literal(_ text: StaticString) throws {
      let count = text.utf8CodeUnitCount
      guard position + count <= buffer.count else { throw error("bad literal") }
      for offset in 0..<count where buffer[position + offset] != text.utf8Start[offset] {
        throw error("bad literal")
      }
      position += count
    }

    /// RFC 8259 number grammar; the text is converted by the standard library.
    mutating func number() throws -> Value {
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
        return .number(Double(buffer[start] == UInt8(ascii: "-") ? -value : value), isInteger: true)
      }
      let text = UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: buffer[start..<position]))
      guard let number = DecimalText.double(text) else { throw SyntaxError(message: "bad number", offset: start) }
      return .number(number, isInteger: isInteger)
    }

    @discardableResult
    mutating func digits() -> Int {
      let start = position
      while let byte = peek(), byte >= 48 && byte <= 57 { position += 1 }
      return position - start
    }

    mutating func string() throws -> String {
      position += 1  // the opening quote
      let start = position
      var sawNonASCII = false
      // Fast path: no escapes.
      while position < buffer.count {
        let byte = buffer[position]
        if byte == UInt8(ascii: "\"") {
          let slice = UnsafeBufferPointer(rebasing: buffer[start..<position])
          position += 1
          // ASCII (the usual case) is valid UTF-8 as it stands; the validating initializer
          // costs a generic-metadata lookup per call.
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

    mutating func hex4() throws -> UInt32 {
      guard position + 4 <= buffer.count else { throw error("bad \\u escape") }
      var code: UInt32 = 0
      for _ in 0..<4 {
        let byte = buffer[position]
        let digit: UInt8
        switch byte {
        case 48...57: digit = byte - 48
        case 65...70: digit = byte - 55
        case 97...102: digit = byte - 87
        default: throw error("bad \\u escape")
        }
        code = code << 4 | UInt32(digit)
        position += 1
      }
      return code
    }

    /// Skips a nested object or array, checking its syntax.
    mutating func skipContainer(depth: Int) throws {
      guard depth <= FlatJSONObject.maxDepth else { throw error("nested too deeply") }
      let isObject = buffer[position] == UInt8(ascii: "{")
      let close = isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")
      position += 1
      skipWhitespace()
      if peek() == close {
        position += 1
        return
      }
      while true {
        skipWhitespace()
        if isObject {
          guard peek() == UInt8(ascii: "\"") else { throw error("expected a member name") }
          _ = try string()
          skipWhitespace()
          guard peek() == UInt8(ascii: ":") else { throw error("expected ':'") }
          position += 1
          skipWhitespace()
        }
        _ = try value(depth: depth)
        skipWhitespace()
        if peek() == UInt8(ascii: ",") {
          position += 1
          continue
        }
        guard peek() == close else { throw error(isObject ? "expected ',' or '}'" : "expected ',' or ']'") }
        position += 1
        return
      }
    }
  }
}
