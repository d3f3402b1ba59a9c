/// RFC 3986 percent-decoding: the one implementation, used for paths, queries and URLs' user
/// information alike.
public enum PercentDecoding {
  /// Decodes `%XX` escapes (and `+` as a space when asked). Returns nil for a malformed escape
  /// (`%`, `%4`, `%zz`) or for bytes that are not UTF-8: a caller must refuse such input rather
  /// than guess what it meant. Inlinable: the router calls it for every path parameter, and an
  /// unspecialized generic call across modules costs more than the decoding.
  @inlinable
  public static func decode<S: StringProtocol>(_ text: S, plusAsSpace: Bool = false) -> String? {
    let utf8 = text.utf8
    if !utf8.contains(UInt8(ascii: "%")) && !(plusAsSpace && utf8.contains(UInt8(ascii: "+"))) {
      return String(text)
    }
    var bytes: [UInt8] = []
    bytes.reserveCapacity(utf8.count)
    var iterator = utf8.makeIterator()
    while let byte = iterator.next() {
      if byte == UInt8(ascii: "%") {
        guard let high = iterator.next(), let low = iterator.next() else { return nil }
        let h = ASCII.hexValue(high)
        let l = ASCII.hexValue(low)
        guard h >= 0, l >= 0 else { return nil }
        bytes.append(UInt8(h << 4 | l))
      } else if plusAsSpace && byte == UInt8(ascii: "+") {
        bytes.append(UInt8(ascii: " "))
      } else {
        bytes.append(byte)
      }
    }
    return String(validating: bytes, as: UTF8.self)
  }
}
