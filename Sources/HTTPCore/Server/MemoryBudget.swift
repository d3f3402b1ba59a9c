import Synchronization

/// The process-wide bounds on what clients can make the server hold: unsent response bytes and
/// request bodies in flight, summed over every connection of every loop.
///
/// Per-connection limits alone do not bound memory: 10 000 connections that each stay just under
/// their own limit add up. Each connection reports its changes here (an atomic add, only when its
/// amount changed during a pass, so the usual request that is answered and written in the same
/// pass costs nothing) and asks before it takes more.
final class MemoryBudget: Sendable {
  let maxOutputBytes: Int
  let maxBodyBytes: Int
  private let output = Atomic<Int>(0)
  private let bodies = Atomic<Int>(0)

  init(maxOutputBytes: Int, maxBodyBytes: Int) {
    self.maxOutputBytes = maxOutputBytes
    self.maxBodyBytes = maxBodyBytes
  }

  /// Unsent response bytes now held across all connections.
  var outputBytes: Int { output.load(ordering: .relaxed) }
  /// Request body bytes now reserved across all connections.
  var bodyBytes: Int { bodies.load(ordering: .relaxed) }

  /// True while the unsent bytes of all connections are over their bound: connections with
  /// unsent bytes of their own then take no new requests.
  var outputOverBudget: Bool { output.load(ordering: .relaxed) > maxOutputBytes }

  func adjustOutput(by delta: Int) {
    if delta != 0 { output.add(delta, ordering: .relaxed) }
  }

  /// Reserves `bytes` for a request body; false (nothing reserved) when that would pass the bound.
  func reserveBody(_ bytes: Int) -> Bool {
    guard bytes > 0 else { return true }
    let after = bodies.add(bytes, ordering: .relaxed).newValue
    if after > maxBodyBytes {
      bodies.subtract(bytes, ordering: .relaxed)
      return false
    }
    return true
  }

  func releaseBody(_ bytes: Int) {
    if bytes > 0 { bodies.subtract(bytes, ordering: .relaxed) }
  }
}
