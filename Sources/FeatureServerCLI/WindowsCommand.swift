import ArgumentParser
import Codecs
import FeatureServer
import Foundation

/// `featureserver windows`: replays an event file through the streaming window engine.
struct WindowsCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "windows",
    abstract: "Compute sliding-window aggregates over a JSON-lines event file, as Spark's append mode emits them.",
    discussion: """
      Events are processed in file order with the server's engine: windows [start, end) of --window,
      one every --slide, aligned to the epoch; the watermark is the largest event time seen minus
      --watermark; an event is dropped from its windows that end at or before the watermark and
      counts in the others. Each window is written once, when the watermark passes its end:
        {"key","window_start","window_end","count","sum","mean","std","min","max"}   (epoch seconds)
      Windows still open at the end of the input follow with "open": true. std is the sample standard
      deviation (null for fewer than two events). A summary goes to stderr as one JSON line.
      Event times: RFC 3339 text or epoch seconds. Bad lines are counted and skipped.
      """)

  @Option(help: "JSON-lines event file ('-' for stdin).")
  var events: String

  @Option(help: "The event field holding the key the windows group by.")
  var key = "customer_id"

  @Option(help: "The event field aggregated.")
  var value = "amount"

  @Option(help: "The event field holding the event time.")
  var time = "event_timestamp"

  @Option(help: "Window length, e.g. 1m, 5m, 1h.")
  var window: String

  @Option(help: "Slide between window starts (at most the window length).")
  var slide: String

  @Option(help: "Watermark delay: how late an event may be and still count in a window.")
  var watermark: String

  @Option(help: "Output JSON-lines file ('-' for stdout).")
  var output = "-"

  @Option(help: "Also write each dropped event-window pair here as a JSON line (key, window, event time, id).")
  var dropped: String?

  func run() throws {
    let size = try Self.microseconds(window, "--window")
    let slide = try Self.microseconds(self.slide, "--slide")
    let delay = try Self.microseconds(watermark, "--watermark")
    guard slide <= size else { throw ValidationError("--slide \(self.slide) is longer than --window \(window)") }
    var schema = WindowEventSchema(keyField: key, valueField: value)
    schema.timeField = time
    schema.requiresTransactionID = false
    let input: FileHandle
    if events == "-" {
      input = .standardInput
    } else {
      guard let file = FileHandle(forReadingAtPath: events) else { throw ValidationError("cannot read \(events)") }
      input = file
    }
    let outputHandle: FileHandle
    if output == "-" {
      outputHandle = .standardOutput
    } else {
      guard FileManager.default.createFile(atPath: output, contents: nil),
        let file = FileHandle(forWritingAtPath: output)
      else { throw ValidationError("cannot write \(output)") }
      outputHandle = file
    }
    var droppedHandle: FileHandle? = nil
    if let dropped {
      guard FileManager.default.createFile(atPath: dropped, contents: nil),
        let file = FileHandle(forWritingAtPath: dropped)
      else { throw ValidationError("cannot write \(dropped)") }
      droppedHandle = file
    }
    let summary = try WindowReplayRun.run(
      input: input, output: outputHandle, dropped: droppedHandle, schema: schema,
      window: SlidingWindow(size: size, slide: slide),
      delay: delay)
    try outputHandle.synchronize()
    FileHandle.standardError.write(Data((summary.json + "\n").utf8))
  }

  /// A duration flag in whole microseconds.
  static func microseconds(_ text: String, _ flag: String) throws -> Int64 {
    guard let seconds = DurationText.seconds(text), seconds <= 366 * 86_400 else {
      throw ValidationError("\(flag) '\(text)' is not a duration like 15s, 1m or 1h (at most a year)")
    }
    let microseconds = (seconds * 1_000_000).rounded()
    guard microseconds >= 1 else { throw ValidationError("\(flag) '\(text)' is shorter than a microsecond") }
    return Int64(microseconds)
  }
}
