import Foundation

/// The distributed protocol's version. A worker speaking another is refused at join; change it
/// with any change to the messages below.
public let distributedProtocolVersion = 1

/// loadgen's release, which a worker must share with its master (a different build may measure
/// or render differently, so a mixed fleet is refused at join, not merged).
public let loadgenVersion = "1.1.0"

/// Everything master and workers say to each other, one message per frame, as JSON.
enum WireMessage: Codable, Sendable {
  /// Worker → master, first: who it is and what it runs.
  case hello(Hello)
  /// Master → worker: not admitted, and why; the master closes the connection after it.
  case refuse(reason: String)
  /// Master → worker: the scenario, this worker's share of the load, and when to begin.
  case start(Start)
  /// Worker → master, every second of the run and once after it (`isFinal`).
  case report(Report)
  /// Master → worker: stop now (the master is shutting down).
  case stop

  struct Hello: Codable, Sendable {
    var protocolVersion: Int
    var version: String
    /// `host:pid`, for the report.
    var name: String
    var threads: Int
    /// The fingerprint of the scenario the worker was started with, if it was given one.
    var scenarioFingerprint: String?
  }

  struct Start: Codable, Sendable {
    /// The target's base URL; the worker resolves it itself.
    var host: String
    /// "fraud" (built in) or the YAML text of the scenario file.
    var scenario: ScenarioSource
    var users: Int
    var spawnRate: Double
    var rate: Double?
    var runTime: Double
    var stopTimeout: Double
    var requestTimeout: Double
    var http2: Bool
    var streamsPerConnection: Int
    var firstUserID: Int
    /// Begin this long after the message arrives, so every worker starts together.
    var startDelay: Double

    /// What makes this share of the load one a worker must not run (the master checks its
    /// flags, but the worker does not trust the wire), or nil.
    var invalidity: String? {
      func positive(_ value: Double, _ name: String, atMost limit: Double) -> String? {
        value > 0 && value <= limit ? nil : "\(name) \(value) is outside (0, \(limit)]"
      }
      if !(0...1_000_000).contains(users) { return "users \(users) is outside 0...1000000" }
      if let problem = positive(spawnRate, "spawn rate", atMost: .greatestFiniteMagnitude) { return problem }
      if let rate, let problem = positive(rate, "rate", atMost: 10_000_000) { return problem }
      if let problem = positive(runTime, "run time", atMost: 366 * 86_400) { return problem }
      if let problem = positive(requestTimeout, "request timeout", atMost: 86_400) { return problem }
      if !(stopTimeout >= 0 && stopTimeout <= 86_400) { return "stop timeout \(stopTimeout) is outside 0...86400" }
      if !(0...10).contains(startDelay) { return "start delay \(startDelay) is outside 0...10" }
      if !(1...1000).contains(streamsPerConnection) {
        return "streams per connection \(streamsPerConnection) is outside 1...1000"
      }
      if !(0...1_000_000_000).contains(firstUserID) { return "first user id \(firstUserID) is outside 0...1000000000" }
      return nil
    }
  }

  struct Report: Codable, Sendable {
    var second: Int
    var timestamp: Double
    var users: Int
    var statistics: WireLoadStatistics
    var isFinal: Bool
    /// Final only: the worker's own measured duration.
    var duration: Double?
  }
}

/// Where a distributed run's scenario comes from; workers get the text, not a path.
public enum ScenarioSource: Codable, Sendable, Equatable {
  case builtIn(String)
  case yaml(String)

  /// Loads the scenario; errors as `ScenarioError`.
  public func load() throws -> Scenario {
    switch self {
    case .builtIn(let name):
      guard name == "fraud" else { throw ScenarioError("unknown built-in scenario '\(name)'") }
      return .fraud
    case .yaml(let text): return try Scenario.parse(yaml: text)
    }
  }

  /// The `--scenario` argument: a built-in name or a file, read now.
  public static func from(argument: String) throws -> ScenarioSource {
    if argument == "fraud" { return .builtIn(argument) }
    guard let text = try? String(contentsOfFile: argument, encoding: .utf8) else {
      throw ScenarioError("\(argument): cannot read the scenario file")
    }
    return .yaml(text)
  }

  /// Compares scenarios across machines: the same built-in, or the same file bytes.
  public var fingerprint: String {
    switch self {
    case .builtIn(let name): return "builtin:\(name)"
    case .yaml(let text):
      // FNV-1a 64: a cheap, stable digest; this guards against a wrong file, not an attacker.
      var hash: UInt64 = 0xcbf2_9ce4_8422_2325
      for byte in text.utf8 {
        hash ^= UInt64(byte)
        hash = hash &* 0x100_0000_01b3
      }
      return "yaml:" + String(hash, radix: 16)
    }
  }
}

extension WireMessage {
  func encoded() -> [UInt8] {
    // Encoding our own value types cannot fail.
    (try? [UInt8](JSONEncoder().encode(self))) ?? []
  }

  static func decode(_ payload: [UInt8]) -> WireMessage? {
    try? JSONDecoder().decode(WireMessage.self, from: Data(payload))
  }
}
