import Foundation

/// What a replay of an event file did.
public struct WindowReplaySummary: Sendable, Equatable {
  public var events = 0
  /// Lines that were not usable events, by problem.
  public var badEvents: [WindowEventProblem: Int] = [:]
  public var droppedPairs = 0
  public var droppedEvents = 0
  public var closedWindows = 0
  public var openWindows = 0

  /// One JSON object, for stderr and for the tests.
  public var json: String {
    let bad = WindowEventProblem.allCases.map { "\"\($0.rawValue)\":\(badEvents[$0, default: 0])" }.joined(
      separator: ",")
    return #"{"events":\#(events),"bad_events":{\#(bad)},"dropped_pairs":\#(droppedPairs),"#
      + #""dropped_events":\#(droppedEvents),"closed_windows":\#(closedWindows),"open_windows":\#(openWindows)}"#
  }
}

/// Replays a JSON-lines event file through `WindowReplay`, streaming: the file is read a chunk
/// at a time and each window is written as soon as the watermark closes it, so memory holds the
/// open windows, not the file.
public enum WindowReplayRun {
  /// The longest line taken as an event; a longer one is a bad event, skipped to its end.
  public static let maxLineBytes = 64 * 1024

  public static func run(
    input: FileHandle, output: FileHandle, dropped: FileHandle? = nil, schema: WindowEventSchema,
    window: SlidingWindow, delay: Int64
  ) throws -> WindowReplaySummary {
    var replay = WindowReplay(window: window, delay: delay)
    replay.recordsDroppedPairs = dropped != nil
    var droppedLines: [UInt8] = []
    var summary = WindowReplaySummary()
    var pending: [UInt8] = []
    var line: [UInt8] = []
    var overlong = false
    func write(_ windows: [EmittedWindow]) throws {
      guard !windows.isEmpty else { return }
      for window in windows {
        pending.append(contentsOf: window.json())
        pending.append(UInt8(ascii: "\n"))
        if window.open { summary.openWindows += 1 } else { summary.closedWindows += 1 }
      }
      if pending.count >= 1 << 16 { try flush() }
    }
    func flush() throws {
      guard !pending.isEmpty else { return }
      try output.write(contentsOf: pending)
      pending.removeAll(keepingCapacity: true)
    }
    func take(_ line: [UInt8]) throws {
      guard line.contains(where: { $0 != 32 && $0 != 9 && $0 != 13 }) else { return }  // blank lines are not events
      switch schema.parse(line) {
      case .success(let event):
        summary.events += 1
        try write(replay.add(event))
        if let dropped, replay.recordsDroppedPairs {
          for (event, start) in replay.takeDroppedLog() {
            droppedLines.append(contentsOf: droppedPairJSON(event, start: start, size: window.size))
            droppedLines.append(UInt8(ascii: "\n"))
          }
          if droppedLines.count >= 1 << 16 {
            try dropped.write(contentsOf: droppedLines)
            droppedLines.removeAll(keepingCapacity: true)
          }
        }
      case .failure(let problem):
        summary.badEvents[problem, default: 0] += 1
      }
    }
    while let chunk = try input.read(upToCount: 1 << 16), !chunk.isEmpty {
      for byte in chunk {
        if byte == UInt8(ascii: "\n") {
          if overlong {
            summary.badEvents[.invalidJSON, default: 0] += 1
          } else {
            try take(line)
          }
          line.removeAll(keepingCapacity: true)
          overlong = false
        } else if !overlong {
          line.append(byte)
          if line.count > maxLineBytes {
            overlong = true
            line.removeAll(keepingCapacity: true)
          }
        }
      }
    }
    if overlong { summary.badEvents[.invalidJSON, default: 0] += 1 } else { try take(line) }
    try write(replay.openWindows())
    try flush()
    if let dropped, !droppedLines.isEmpty { try dropped.write(contentsOf: droppedLines) }
    summary.droppedPairs = replay.droppedPairs
    summary.droppedEvents = replay.droppedEvents
    return summary
  }

  /// `{"key","window_start","window_end","event_timestamp"[,"transaction_id"]}` of a dropped pair.
  static func droppedPairJSON(_ event: WindowEvent, start: Int64, size: Int64) -> [UInt8] {
    var output: [UInt8] = []
    JSONWriter.appendRaw(#"{"key":"#, to: &output)
    output.append(contentsOf: event.keyJSON)
    JSONWriter.appendRaw(#","window_start":"#, to: &output)
    EmittedWindow.appendSeconds(start, to: &output)
    JSONWriter.appendRaw(#","window_end":"#, to: &output)
    EmittedWindow.appendSeconds(start + size, to: &output)
    JSONWriter.appendRaw(#","event_timestamp":"#, to: &output)
    EmittedWindow.appendSeconds(event.time, to: &output)
    if let id = event.transactionID {
      JSONWriter.appendRaw(#","transaction_id":"#, to: &output)
      JSONWriter.appendString(id, to: &output)
    }
    output.append(UInt8(ascii: "}"))
    return output
  }
}
