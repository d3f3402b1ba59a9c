import Foundation

/// Command-line options shared by the suites.
enum Options {
  static func integer(_ name: String, default value: Int) -> Int {
    guard let index = CommandLine.arguments.firstIndex(of: name), index + 1 < CommandLine.arguments.count,
      let parsed = Int(CommandLine.arguments[index + 1]), parsed > 0
    else { return value }
    return parsed
  }

  static func text(_ name: String) -> String? {
    guard let index = CommandLine.arguments.firstIndex(of: name), index + 1 < CommandLine.arguments.count else {
      return nil
    }
    return CommandLine.arguments[index + 1]
  }
}

/// Runs `body(thread)` on `threads` threads released together; returns wall nanoseconds per
/// iteration (each thread runs `iterations`). `body` returns a count the caller may check.
func measure(threads: Int, iterations: Int, _ body: @escaping @Sendable (Int) -> Int) -> (
  nanoseconds: Double, total: Int
) {
  let start = DispatchSemaphore(value: 0)
  let done = DispatchGroup()
  let total = Total()
  for thread in 0..<threads {
    done.enter()
    Thread.detachNewThread {
      start.wait()
      total.add(body(thread))
      done.leave()
    }
  }
  let begin = DispatchTime.now().uptimeNanoseconds
  for _ in 0..<threads { start.signal() }
  done.wait()
  return (Double(DispatchTime.now().uptimeNanoseconds - begin) / Double(iterations), total.value)
}

final class Total: @unchecked Sendable {
  private let lock = NSLock()
  private(set) var value = 0
  func add(_ amount: Int) { lock.withLock { value += amount } }
}

/// Hands a value to threads that only read it.
struct UnsafeBox<Value>: @unchecked Sendable {
  let value: Value
  init(_ value: Value) { self.value = value }
}
