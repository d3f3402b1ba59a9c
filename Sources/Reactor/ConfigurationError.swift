/// A setting that cannot be used: which one (by its flag name) and the range it must be in.
/// Every configuration type's `validate()` throws it, so every flag's error reads alike.
public struct ConfigurationError: Error, CustomStringConvertible, Equatable, Sendable {
  public let description: String
  public init(_ description: String) { self.description = description }

  /// The longest any duration setting may be (a week): longer values are almost certainly a
  /// mistake in units.
  public static let maxSeconds: Double = 7 * 86400

  /// Throws unless `value` is a finite number of seconds from 0 (or above 0, when `positive`)
  /// to `maximum`.
  public static func checkSeconds(
    _ name: String, _ value: Double, positive: Bool, maximum: Double = maxSeconds
  ) throws {
    guard value.isFinite, positive ? value > 0 : value >= 0, value <= maximum else {
      let low = positive ? "more than 0" : "0 or more"
      throw ConfigurationError("\(name) must be \(low) and at most \(formatted(maximum)) seconds, got \(value)")
    }
  }

  /// Throws unless `value` lies in `range`.
  public static func check(_ name: String, _ value: Int, in range: ClosedRange<Int>) throws {
    guard range.contains(value) else {
      throw ConfigurationError("\(name) must be \(range.lowerBound)...\(range.upperBound), got \(value)")
    }
  }

  private static func formatted(_ seconds: Double) -> String {
    seconds == seconds.rounded() && seconds < 1e15 ? String(Int64(seconds)) : String(seconds)
  }
}
