/// Durations as people write them in flags and files: `90` (seconds), `1.5s`, `250ms`, `10m`,
/// `24h`, `7d`, and sums such as `1h30m`. The one parser for the registry, the CLI and loadgen.
public enum DurationText {
  /// Seconds, or nil when `text` is not a positive, finite duration.
  public static func seconds(_ text: String) -> Double? {
    let trimmed = text.utf8
    guard !trimmed.isEmpty, trimmed.count <= 64 else { return nil }
    if let plain = Double(text) { return plain > 0 && plain.isFinite ? plain : nil }
    var total = 0.0
    var number = ""
    var characters = Array(text)
    characters.append(" ")  // sentinel: flushes the last unit
    var index = 0
    while index < characters.count - 1 {
      let character = characters[index]
      if character.isASCII && (character.isNumber || character == ".") {
        number.append(character)
        index += 1
        continue
      }
      guard let value = Double(number), value.isFinite, value >= 0 else { return nil }
      let unit: Double
      if character == "m" && characters[index + 1] == "s" {
        unit = 0.001
        index += 1
      } else {
        switch character {
        case "s": unit = 1
        case "m": unit = 60
        case "h": unit = 3600
        case "d": unit = 86400
        default: return nil
        }
      }
      total += value * unit
      number = ""
      index += 1
    }
    guard number.isEmpty, total > 0, total.isFinite else { return nil }
    return total
  }
}
