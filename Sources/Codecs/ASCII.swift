/// ASCII byte tests and case-insensitive comparisons, the one home for them: HTTP field names,
/// transfer codings, auth schemes and URL schemes are all compared ASCII case-insensitively
/// (RFC 9110 §5.1), never with Unicode case folding.
public enum ASCII {
  /// The value of a hexadecimal digit, or -1.
  @inlinable @inline(__always)
  public static func hexValue(_ byte: UInt8) -> Int {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): Int(byte - UInt8(ascii: "0"))
    case UInt8(ascii: "a")...UInt8(ascii: "f"): Int(byte - UInt8(ascii: "a") + 10)
    case UInt8(ascii: "A")...UInt8(ascii: "F"): Int(byte - UInt8(ascii: "A") + 10)
    default: -1
    }
  }

  /// `byte` lowered if it is an ASCII capital letter; any other byte as it is.
  @inlinable @inline(__always)
  public static func lowercased(_ byte: UInt8) -> UInt8 {
    byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
  }

  /// True when `bytes` equal `lowercase` (a literal written in lower case) ignoring ASCII case.
  /// Only letters fold: `\r` never matches `-`, `@` never matches `` ` ``.
  @inlinable @inline(__always)
  public static func equalsIgnoringCase(_ bytes: UnsafeRawBufferPointer, _ lowercase: StaticString) -> Bool {
    guard bytes.count == lowercase.utf8CodeUnitCount else { return false }
    let literal = lowercase.utf8Start
    for offset in 0..<bytes.count where lowercased(bytes[offset]) != literal[offset] { return false }
    return true
  }

  /// True when `a` and `b` are equal ignoring ASCII case (letters only), without allocating.
  /// Inlinable so that each call site specializes it (a generic call across modules costs a
  /// metadata lookup per call: it showed in profiles of the response path).
  @inlinable
  public static func equalsIgnoringCase<A: StringProtocol, B: StringProtocol>(_ a: A, _ b: B) -> Bool {
    let left = a.utf8
    let right = b.utf8
    guard left.count == right.count else { return false }
    for (x, y) in zip(left, right) where lowercased(x) != lowercased(y) { return false }
    return true
  }

  /// True when `text` starts with `prefix` ignoring ASCII case.
  @inlinable
  public static func hasPrefixIgnoringCase<A: StringProtocol, B: StringProtocol>(_ text: A, _ prefix: B) -> Bool {
    let bytes = text.utf8
    let start = prefix.utf8
    guard bytes.count >= start.count else { return false }
    for (x, y) in zip(bytes, start) where lowercased(x) != lowercased(y) { return false }
    return true
  }
}

extension StringProtocol {
  /// The text without ASCII spaces and tabs at either end (HTTP's optional whitespace).
  @inlinable
  public var trimmingSpaces: SubSequence {
    let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
    guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else {
      return self[endIndex...]
    }
    return self[first...last]
  }
}

extension Array where Element == UInt8 {
  /// Appends the bytes of a literal in one copy (appending a `String`'s UTF-8 view goes through
  /// the string's storage checks, which costs more on the response paths).
  @inlinable
  public mutating func append(literal text: StaticString) {
    append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
  }
}
