/// The geometry of Spark's sliding event-time windows: half-open `[start, end)` windows of
/// `size`, one starting every `slide`, aligned to the epoch. Times are microseconds since the
/// epoch (Spark's timestamp resolution).
public struct SlidingWindow: Sendable, Equatable {
  public let size: Int64
  public let slide: Int64

  /// `size` and `slide` in microseconds; the caller has checked both are positive and that
  /// `slide <= size`.
  public init(size: Int64, slide: Int64) {
    self.size = size
    self.slide = slide
  }

  /// The start of the last window that contains `time` (the one starting at or before it).
  public func lastStart(containing time: Int64) -> Int64 {
    // Non-negative modulo, as Spark's TimeWindowing makes it, so times before 1970 align too.
    var remainder = time % slide
    if remainder < 0 { remainder += slide }
    return time - remainder
  }

  /// The starts of every window containing `time`, newest first: `ceil(size / slide)` of them
  /// minus those that do not reach `time` (Spark's `start <= time < end` filter).
  public func starts(containing time: Int64) -> StrideThrough<Int64> {
    let last = lastStart(containing: time)
    // The oldest start s with s + size > time: s > time - size.
    let windows = (size + slide - 1) / slide
    var oldest = last - (windows - 1) * slide
    while oldest + size <= time { oldest += slide }
    return stride(from: last, through: oldest, by: -Int(slide))
  }

  /// The window a reader at `now` is served: the open one that closes next, whose end is the
  /// next slide boundary after `now` (Spark's update mode holds this window's value for it).
  public func servedWindow(at now: Int64) -> (start: Int64, end: Int64) {
    let end = lastStart(containing: now) + slide
    return (end - size, end)
  }
}
