/// The columns of an entity's events (time, value, cutoff), shared by the versions of its
/// cached events (`StoredWindowEvents`): a version sees the first `count` rows; the version at
/// the tip (its count is `used`) appends in place, so the stream consumer adds an event to a
/// cached entity without copying what is there (a copy per event made the consumer fall
/// behind while GETs were served from the cache). Rows below `used` never change.
///
/// Thread safety: readers read rows below their version's count only; the one writer appends
/// at `used` while holding the cache shard's lock, under which the longer version is then
/// published (so a reader that takes it sees its rows). Fixed capacity: growing means new
/// columns.
final class EventColumns: @unchecked Sendable {
  let capacity: Int
  /// Rows written.
  private(set) var used = 0
  let times: UnsafeMutablePointer<Int64>
  let values: UnsafeMutablePointer<Double>
  /// `Int64.min` where no watermark was in force.
  let cutoffs: UnsafeMutablePointer<Int64>

  init(capacity: Int) {
    self.capacity = max(0, capacity)
    times = .allocate(capacity: self.capacity)
    values = .allocate(capacity: self.capacity)
    cutoffs = .allocate(capacity: self.capacity)
  }

  deinit {
    times.deallocate()
    values.deallocate()
    cutoffs.deallocate()
  }

  /// Columns holding the first `count` rows of `other`, with room for `capacity` rows.
  convenience init(copying count: Int, of other: EventColumns, capacity: Int) {
    self.init(capacity: capacity)
    times.update(from: other.times, count: count)
    values.update(from: other.values, count: count)
    cutoffs.update(from: other.cutoffs, count: count)
    used = count
  }

  /// Writes a row at `used`; the caller checked there is room and that it owns the tip.
  func append(time: Int64, value: Double, cutoff: Int64) {
    times[used] = time
    values[used] = value
    cutoffs[used] = cutoff
    used += 1
  }

  /// Shared by every version that has no events.
  static let empty = EventColumns(capacity: 0)
}
