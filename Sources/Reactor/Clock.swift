#if canImport(Glibc)
  import Glibc
#endif

/// Monotonic time in nanoseconds (CLOCK_MONOTONIC).
@inline(__always)
public func monotonicNanoseconds() -> UInt64 {
  var spec = timespec()
  clock_gettime(CLOCK_MONOTONIC, &spec)
  return UInt64(spec.tv_sec) &* 1_000_000_000 &+ UInt64(spec.tv_nsec)
}

/// Seconds (from a flag, a file, a peer) as nanoseconds for the loop clock, saturating: NaN and
/// negative values give 0, huge ones about 290 years. `UInt64(seconds * 1e9)` would trap on
/// both; validated settings never come near the limits, and unvalidated ones cannot crash.
@inline(__always)
public func nanoseconds(fromSeconds seconds: Double) -> UInt64 {
  guard seconds > 0 else { return 0 }  // also NaN
  guard seconds < 9.2e9 else { return 9_200_000_000_000_000_000 }
  return UInt64(seconds * 1e9)
}

/// Wall-clock time in microseconds since the epoch: event time, which windows are aligned to.
public func wallClockMicroseconds() -> Int64 {
  var now = timespec()
  clock_gettime(CLOCK_REALTIME, &now)
  return Int64(now.tv_sec) * 1_000_000 + Int64(now.tv_nsec) / 1000
}
