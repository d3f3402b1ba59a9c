/// One window as append mode emits it.
public struct EmittedWindow: Sendable, Equatable {
  public var keyJSON: [UInt8]
  public var start: Int64
  public var end: Int64
  public var aggregates: WindowAccumulator
  /// Still open when the input ended (not yet passed by the watermark).
  public var open: Bool

  /// `{"key","window_start","window_end","count","sum","mean","std","min","max"[,"open"]}`,
  /// times in epoch seconds.
  public func json() -> [UInt8] {
    var output: [UInt8] = []
    JSONWriter.appendRaw(#"{"key":"#, to: &output)
    output.append(contentsOf: keyJSON)
    JSONWriter.appendRaw(#","window_start":"#, to: &output)
    Self.appendSeconds(start, to: &output)
    JSONWriter.appendRaw(#","window_end":"#, to: &output)
    Self.appendSeconds(end, to: &output)
    for aggregation in WindowAggregation.allCases {
      output.append(UInt8(ascii: ","))
      JSONWriter.appendString(aggregation.rawValue, to: &output)
      output.append(UInt8(ascii: ":"))
      JSONWriter.appendValue(aggregates.value(of: aggregation), to: &output)
    }
    if open { JSONWriter.appendRaw(#","open":true"#, to: &output) }
    output.append(UInt8(ascii: "}"))
    return output
  }

  /// Whole seconds as an integer, otherwise a decimal with the microseconds.
  static func appendSeconds(_ microseconds: Int64, to output: inout [UInt8]) {
    if microseconds % 1_000_000 == 0 {
      JSONWriter.appendInteger(microseconds / 1_000_000, to: &output)
    } else {
      JSONWriter.appendDouble(Double(microseconds) / 1_000_000, to: &output)
    }
  }
}

/// Spark Structured Streaming's sliding-window aggregation with a watermark, one event at a
/// time, in append mode: the engine behind `featureserver windows`.
///
/// - The watermark is the largest event time seen before the current event, minus the delay
///   (Spark's, computed per micro-batch, equals it wherever batching cannot decide: see the
///   parity test).
/// - An event is dropped from each of its windows whose end is at or before the watermark and
///   still counts in the others (Spark judges lateness per window).
/// - A window is emitted once, when the watermark reaches its end, and then forgotten.
public struct WindowReplay {
  public let window: SlidingWindow
  /// The watermark delay in microseconds.
  public let delay: Int64
  /// The largest event time seen; nil before the first event.
  public private(set) var maxEventTime: Int64?
  /// Event–window pairs dropped as late.
  public private(set) var droppedPairs = 0
  /// Events dropped from every one of their windows.
  public private(set) var droppedEvents = 0
  /// When set, every dropped event–window pair is also kept here (for `--dropped`), until taken.
  public var recordsDroppedPairs = false
  public private(set) var droppedLog: [(event: WindowEvent, start: Int64)] = []
  /// Open windows by start, then by key.
  private var open: [Int64: [String: (keyJSON: [UInt8], aggregates: WindowAccumulator)]] = [:]
  /// The starts in `open`, ascending.
  private var openStarts: [Int64] = []

  public init(window: SlidingWindow, delay: Int64) {
    self.window = window
    self.delay = delay
  }

  /// The watermark in force: nil until an event has been seen.
  public var watermark: Int64? { maxEventTime.map { $0 &- delay } }

  /// Adds one event; returns the windows the watermark closed, oldest first, keys in order.
  public mutating func add(_ event: WindowEvent) -> [EmittedWindow] {
    let watermark = self.watermark
    var counted = false
    for start in window.starts(containing: event.time) {
      if let watermark, start + window.size <= watermark {
        droppedPairs += 1
        if recordsDroppedPairs { droppedLog.append((event, start)) }
        continue
      }
      counted = true
      if open[start] == nil {
        open[start] = [:]
        insertStart(start)
      }
      open[start]![event.key, default: (event.keyJSON, WindowAccumulator())].aggregates.add(event.value)
    }
    if !counted { droppedEvents += 1 }
    if maxEventTime == nil || event.time > maxEventTime! { maxEventTime = event.time }
    return closeWindows()
  }

  /// The dropped pairs logged since the last call.
  public mutating func takeDroppedLog() -> [(event: WindowEvent, start: Int64)] {
    defer { droppedLog.removeAll(keepingCapacity: true) }
    return droppedLog
  }

  /// Every window not yet emitted, marked open, oldest first.
  public func openWindows() -> [EmittedWindow] {
    openStarts.flatMap { emitted(start: $0, open: true) }
  }

  private mutating func closeWindows() -> [EmittedWindow] {
    guard let watermark, let first = openStarts.first, first + window.size <= watermark else { return [] }
    var closed: [EmittedWindow] = []
    var count = 0
    for start in openStarts {
      guard start + window.size <= watermark else { break }
      closed += emitted(start: start, open: false)
      open[start] = nil
      count += 1
    }
    openStarts.removeFirst(count)
    return closed
  }

  private func emitted(start: Int64, open isOpen: Bool) -> [EmittedWindow] {
    guard let keys = open[start] else { return [] }
    return keys.keys.sorted().map { key in
      let entry = keys[key]!
      return EmittedWindow(
        keyJSON: entry.keyJSON, start: start, end: start + window.size, aggregates: entry.aggregates, open: isOpen)
    }
  }

  private mutating func insertStart(_ start: Int64) {
    var low = 0
    var high = openStarts.count
    while low < high {
      let middle = (low + high) / 2
      if openStarts[middle] < start { low = middle + 1 } else { high = middle }
    }
    openStarts.insert(start, at: low)
  }
}
