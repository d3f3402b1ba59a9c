/// Public checks of HTTP/1.1 syntax (RFC 9110 §5.6), for code that writes requests or responses
/// from data it did not make itself: a field name must be a token, a field value and a request
/// target must not contain bytes that end a line or the message.
public enum HTTPSyntax {
  /// True when `name` is a non-empty token (a valid field name or method).
  public static func isToken<S: StringProtocol>(_ name: S) -> Bool {
    !name.utf8.isEmpty && name.utf8.allSatisfy { ByteClass.isToken($0) }
  }

  /// True for a byte allowed in a field value: HTAB, SP, VCHAR, obs-text (no CR, LF, NUL, DEL).
  public static func isFieldValueByte(_ byte: UInt8) -> Bool { ByteClass.isFieldValue(byte) }

  /// True for a byte allowed in a request target (visible ASCII).
  public static func isTargetByte(_ byte: UInt8) -> Bool { ByteClass.isTarget(byte) }

  /// True when `value` is a valid field value.
  public static func isFieldValue<S: StringProtocol>(_ value: S) -> Bool { value.utf8.allSatisfy(isFieldValueByte) }
}
