import Atomics
import Foundation
import Reactor

/// Histograms of the values fed to the model over a sliding window, one set per loop, written
/// without locks: each loop writes only its own counters (relaxed loads and stores, no
/// read-modify-write), and a scrape sums every loop's at the time it runs.
///
/// The window is `slotCount` rotating slots of `window / slotCount` seconds; a slot is cleared
/// when its loop first writes to it in a new period, and a scrape counts the slots of the last
/// `slotCount` periods.
public final class DriftTracker: @unchecked Sendable {
  public let reference: DriftReference
  /// Seconds of the sliding window.
  public let window: Double
  static let slotCount = 10
  let slotNanoseconds: UInt64
  /// Offset of each feature's first bin within a slot.
  let offsets: [Int]
  let binsPerSlot: Int
  /// Every feature's edges, back to back, and where each feature's start: the record path
  /// searches these without touching the reference's structs (no reference counting).
  let edges: [Double]
  let edgeStarts: [Int]
  /// Per loop: `slotCount * binsPerSlot` counters, then `slotCount` period stamps.
  private let storage: [UnsafeMutablePointer<UnsafeAtomic<Int>.Storage>]

  public init(reference: DriftReference, window: Double, loops: Int) {
    self.reference = reference
    self.window = window
    slotNanoseconds = max(1, nanoseconds(fromSeconds: window) / UInt64(DriftTracker.slotCount))
    var offsets: [Int] = []
    var total = 0
    for feature in reference.features {
      offsets.append(total)
      total += feature.proportions.count
    }
    self.offsets = offsets
    binsPerSlot = total
    edges = reference.features.flatMap(\.edges)
    var starts: [Int] = []
    var start = 0
    for feature in reference.features {
      starts.append(start)
      start += feature.edges.count
    }
    edgeStarts = starts + [start]
    let count = DriftTracker.slotCount * (total + 1)
    storage = (0..<loops).map { _ in
      let pointer = UnsafeMutablePointer<UnsafeAtomic<Int>.Storage>.allocate(capacity: count)
      for index in 0..<count { (pointer + index).initialize(to: UnsafeAtomic<Int>.Storage(-1)) }
      for index in 0..<(DriftTracker.slotCount * total) {
        UnsafeAtomic<Int>(at: pointer + index).store(0, ordering: .relaxed)
      }
      return pointer
    }
  }

  deinit {
    for pointer in storage { pointer.deallocate() }
  }

  private func stamp(_ base: UnsafeMutablePointer<UnsafeAtomic<Int>.Storage>, _ slot: Int) -> UnsafeAtomic<Int> {
    UnsafeAtomic<Int>(at: base + DriftTracker.slotCount * binsPerSlot + slot)
  }

  /// Counts one model input vector (NaN = missing) on loop `loop`, at monotonic time `now`.
  /// Call only on that loop's thread.
  public func record(_ inputs: UnsafeBufferPointer<Float>, loop: Int, now: UInt64) {
    let base = storage[loop]
    let period = Int(now / slotNanoseconds)
    let slot = period % DriftTracker.slotCount
    let slotStamp = stamp(base, slot)
    let slotStart = slot * binsPerSlot
    if slotStamp.load(ordering: .relaxed) != period {
      for index in slotStart..<(slotStart + binsPerSlot) {
        UnsafeAtomic<Int>(at: base + index).store(0, ordering: .relaxed)
      }
      slotStamp.store(period, ordering: .relaxed)
    }
    edges.withUnsafeBufferPointer { edges in
      edgeStarts.withUnsafeBufferPointer { starts in
        offsets.withUnsafeBufferPointer { offsets in
          for position in 0..<min(inputs.count, offsets.count) {
            let value = Double(inputs[position])
            let first = starts[position]
            let end = starts[position + 1]
            var bin: Int
            if value.isNaN {
              bin = end - first + 1
            } else {  // the number of edges at or below the value
              var low = first
              var high = end
              while low < high {
                let middle = (low + high) >> 1
                if edges[middle] <= value { low = middle + 1 } else { high = middle }
              }
              bin = low - first
            }
            let counter = UnsafeAtomic<Int>(at: base + slotStart + offsets[position] + bin)
            counter.store(counter.load(ordering: .relaxed) &+ 1, ordering: .relaxed)
          }
        }
      }
    }
  }

  /// Counts per bin (then missing) of every feature over the window ending at `now`.
  public func counts(now: UInt64) -> [[Int]] {
    let period = Int(now / slotNanoseconds)
    var totals = [Int](repeating: 0, count: binsPerSlot)
    for base in storage {
      for slot in 0..<DriftTracker.slotCount {
        let slotPeriod = stamp(base, slot).load(ordering: .relaxed)
        guard slotPeriod >= 0, slotPeriod > period - DriftTracker.slotCount, slotPeriod <= period else { continue }
        for index in 0..<binsPerSlot {
          totals[index] += UnsafeAtomic<Int>(at: base + slot * binsPerSlot + index).load(ordering: .relaxed)
        }
      }
    }
    return reference.features.indices.map { position in
      Array(totals[offsets[position]..<(offsets[position] + reference.features[position].proportions.count)])
    }
  }
}
