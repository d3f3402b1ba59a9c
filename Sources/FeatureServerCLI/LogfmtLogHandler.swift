import ArgumentParser
import Foundation
import Logging

#if canImport(Glibc)
  import Glibc
#endif

/// Writes one logfmt line per event to standard error with a single write(2):
/// `ts=2026-11-23T13:00:00.123Z level=warning logger=featureserver.redis msg="..." key=value`.
struct LogfmtLogHandler: LogHandler {
  let label: String
  var logLevel: Logger.Level
  var metadata: Logger.Metadata = [:]

  init(label: String, level: Logger.Level) {
    self.label = label
    logLevel = level
  }

  subscript(metadataKey key: String) -> Logger.Metadata.Value? {
    get { metadata[key] }
    set { metadata[key] = newValue }
  }

  func log(event: LogEvent) {
    var line =
      "ts=\(LogfmtLogHandler.timestamp()) level=\(event.level) logger=\(label) msg=\(LogfmtLogHandler.quoted("\(event.message)"))"
    let merged = metadata.merging(event.metadata ?? [:]) { $1 }
    for key in merged.keys.sorted() {
      line += " \(key)=\(LogfmtLogHandler.quoted("\(merged[key]!)"))"
    }
    line += "\n"
    line.withUTF8 { bytes in _ = write(2, bytes.baseAddress, bytes.count) }
  }

  private static func quoted(_ value: String) -> String {
    let plain =
      !value.isEmpty && value.unicodeScalars.allSatisfy { $0.value > 0x20 && $0 != "\"" && $0 != "=" && $0 != "\\" }
    if plain { return value }
    var escaped = "\""
    for scalar in value.unicodeScalars {
      switch scalar {
      case "\"": escaped += "\\\""
      case "\\": escaped += "\\\\"
      case "\n": escaped += "\\n"
      default: escaped.unicodeScalars.append(scalar)
      }
    }
    return escaped + "\""
  }

  private static func timestamp() -> String {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    var seconds = now.tv_sec
    var parts = tm()
    gmtime_r(&seconds, &parts)
    func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
    let millis = now.tv_nsec / 1_000_000
    let fraction = millis < 10 ? "00\(millis)" : millis < 100 ? "0\(millis)" : "\(millis)"
    return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):"
      + "\(two(parts.tm_min)):\(two(parts.tm_sec)).\(fraction)Z"
  }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

/// Sends every logger of the process to logfmt on standard error at `level`. Call once, first.
func bootstrapLogging(level: Logger.Level) {
  LoggingSystem.bootstrap { label in LogfmtLogHandler(label: label, level: level) }
}

/// The command line's own logger.
let cliLogger = Logger(label: "featureserver")
