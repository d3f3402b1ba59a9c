import Foundation
import HTTPCore
import Reactor
import Yams

/// How long a user waits between two of its tasks, as Locust's `wait_time` functions.
public enum WaitTime: Sendable, Equatable {
  /// Uniform in `low...high` seconds.
  case between(Double, Double)
  case constant(Double)
  /// Each task iteration takes at least `1 / rate` seconds (the wait makes up the rest).
  case constantThroughput(Double)

  /// Nanoseconds to wait after a task that took `elapsed` nanoseconds.
  func nanoseconds(after elapsed: UInt64, random: inout FastRandom) -> UInt64 {
    switch self {
    case .between(let low, let high): Reactor.nanoseconds(fromSeconds: low + random.unit() * (high - low))
    case .constant(let seconds): Reactor.nanoseconds(fromSeconds: seconds)
    case .constantThroughput(let rate):
      // Saturating: a tiny rate makes 1 / rate too large for a plain conversion.
      Reactor.nanoseconds(fromSeconds: 1 / rate) > elapsed ? Reactor.nanoseconds(fromSeconds: 1 / rate) - elapsed : 0
    }
  }
}

/// One weighted task: a request built from templates.
public struct RequestTask: Sendable {
  /// The name statistics are kept under (Locust's `name`): by default the path template.
  public var name: String
  public var method: String
  public var path: Template
  public var headers: [(name: String, value: Template)]
  public var body: Template?
  public var weight: Int
  /// The status a success must have; nil accepts any 2xx and 3xx.
  public var expectedStatus: Int?
}

/// A load scenario: variables, weighted tasks and the users' wait time.
public struct Scenario: Sendable {
  public var name: String
  public var waitTime: WaitTime
  public var variableNames: [String]
  public var generators: [VariableGenerator]
  public var tasks: [RequestTask]

  /// Cumulative weights for the task pick.
  var cumulativeWeights: [Int] {
    var total = 0
    return tasks.map {
      total += $0.weight
      return total
    }
  }

  /// Loads a YAML scenario file. Errors name the file and what is wrong.
  public static func load(path: String) throws -> Scenario {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
      throw ScenarioError("\(path): cannot read the scenario file")
    }
    do {
      return try parse(yaml: text)
    } catch let error as ScenarioError {
      throw ScenarioError("\(path): \(error.description)")
    } catch {
      throw ScenarioError("\(path): not valid YAML: \(error)")
    }
  }

  /// Parses a scenario:
  ///
  /// ```yaml
  /// name: checkout
  /// wait_time: {between: [0.5, 1.5]}      # or {constant: 1} or {constant_throughput: 10}
  /// variables:
  ///   customer: {int: [1, 5000], hot: [0.8, 0.1]}   # 80 % of draws from the first 10 %
  ///   amount: {decimal: [1, 500], decimals: 2}
  ///   category: {choice: [grocery, crypto]}
  /// requests:
  ///   - {name: "/features/customer/:id", path: "/features/customer/{customer}", weight: 7, expect_status: 200}
  ///   - method: POST
  ///     path: /predict
  ///     headers: {Content-Type: application/json}
  ///     body: '{"transaction_id": "t{counter}", "customer_id": {customer}, "amount": {amount}}'
  ///     weight: 3
  /// ```
  /// `{counter}` (1, 2, … per user) and `{user}` are always defined.
  public static func parse(yaml text: String) throws -> Scenario {
    guard let root = try Yams.load(yaml: text) as? [String: Any] else {
      throw ScenarioError("the scenario must be a mapping with 'requests'")
    }
    let known: Set<String> = ["name", "wait_time", "variables", "requests"]
    if let unknown = root.keys.first(where: { !known.contains($0) }) {
      throw ScenarioError("unknown key '\(unknown)' (expected name, wait_time, variables, requests)")
    }
    var names = ["counter", "user"]
    var generators: [VariableGenerator] = [.counter, .user]
    for (name, value) in (root["variables"] as? [String: Any] ?? [:]).sorted(by: { $0.key < $1.key }) {
      guard !names.contains(name) else { throw ScenarioError("variable '\(name)' is built in") }
      names.append(name)
      generators.append(try generator(name, value))
    }
    guard let requests = root["requests"] as? [[String: Any]], !requests.isEmpty else {
      throw ScenarioError("'requests' must be a list of at least one request")
    }
    var tasks: [RequestTask] = []
    for (index, request) in requests.enumerated() {
      let context = "requests[\(index)]"
      guard let path = request["path"] as? String, path.hasPrefix("/") else {
        throw ScenarioError("\(context): 'path' must be a string starting with '/'")
      }
      let method = (request["method"] as? String ?? "GET").uppercased()
      guard ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"].contains(method) else {
        throw ScenarioError("\(context): unsupported method '\(method)'")
      }
      let weight = request["weight"] as? Int ?? 1
      guard weight >= 1 else { throw ScenarioError("\(context): 'weight' must be a positive integer") }
      var headers: [(String, Template)] = []
      for (header, value) in (request["headers"] as? [String: Any] ?? [:]).sorted(by: { $0.key < $1.key }) {
        // Rendered straight into the request: a name that is not a token, or a value with CR,
        // LF or NUL, would split the request (header injection).
        guard HTTPSyntax.isToken(header) else {
          throw ScenarioError("\(context): header name '\(header)' is not a valid HTTP field name")
        }
        guard !["host", "content-length", "transfer-encoding", "connection"].contains(header.lowercased()) else {
          throw ScenarioError("\(context): header '\(header)' is set by loadgen itself")
        }
        let template = try Template("\(value)", variables: names)
        if let bad = template.firstRefusedByte(generators: generators, allowed: HTTPSyntax.isFieldValueByte) {
          throw ScenarioError("\(context): header '\(header)' can contain the byte 0x\(String(bad, radix: 16))")
        }
        headers.append((header, template))
      }
      var body: Template? = nil
      if let text = request["body"] {
        body = try Template(text as? String ?? "\(text)", variables: names)
      }
      let expected = request["expect_status"] as? Int
      if let expected, !(100...599).contains(expected) {
        throw ScenarioError("\(context): 'expect_status' must be an HTTP status")
      }
      let pathTemplate = try Template(path, variables: names)
      if let bad = pathTemplate.firstRefusedByte(generators: generators, allowed: HTTPSyntax.isTargetByte) {
        throw ScenarioError("\(context): 'path' can contain the byte 0x\(String(bad, radix: 16)) (percent-encode it)")
      }
      tasks.append(
        RequestTask(
          name: request["name"] as? String ?? path, method: method, path: pathTemplate,
          headers: headers, body: body, weight: weight, expectedStatus: expected))
    }
    return Scenario(
      name: root["name"] as? String ?? "scenario", waitTime: try waitTime(root["wait_time"]), variableNames: names,
      generators: generators, tasks: tasks)
  }

  static func waitTime(_ value: Any?) throws -> WaitTime {
    guard let value else { return .constant(0) }
    guard let mapping = value as? [String: Any], mapping.count == 1, let (kind, argument) = mapping.first else {
      throw ScenarioError("wait_time must be {between: [a, b]}, {constant: t} or {constant_throughput: r}")
    }
    switch kind {
    case "between":
      guard let pair = argument as? [Any], pair.count == 2, let low = number(pair[0]), let high = number(pair[1]),
        low >= 0, high >= low
      else { throw ScenarioError("wait_time between needs [low, high] seconds with 0 <= low <= high") }
      return .between(low, high)
    case "constant":
      guard let seconds = number(argument), seconds >= 0 else {
        throw ScenarioError("wait_time constant needs seconds >= 0")
      }
      return .constant(seconds)
    case "constant_throughput":
      guard let rate = number(argument), rate > 0 else {
        throw ScenarioError("wait_time constant_throughput needs a rate > 0 (task runs per second per user)")
      }
      return .constantThroughput(rate)
    default:
      throw ScenarioError("unknown wait_time '\(kind)' (between, constant, constant_throughput)")
    }
  }

  static func generator(_ name: String, _ value: Any) throws -> VariableGenerator {
    guard let mapping = value as? [String: Any] else {
      throw ScenarioError("variable '\(name)' must be {int: [a, b]}, {decimal: [a, b]} or {choice: [...]}")
    }
    if let range = mapping["int"] as? [Any] {
      guard range.count == 2, let low = range[0] as? Int, let high = range[1] as? Int, low <= high else {
        throw ScenarioError("variable '\(name)': int needs [low, high] with low <= high")
      }
      // Within ±2^61 the width of the range (high - low + 1) and every drawn value fit Int64.
      guard low >= -(1 << 61), high <= 1 << 61 else {
        throw ScenarioError("variable '\(name)': int bounds must be within ±\(1 << 61)")
      }
      var share = 0.0
      var fraction = 0.0
      if let hot = mapping["hot"] {
        guard let pair = hot as? [Any], pair.count == 2, let s = number(pair[0]), let f = number(pair[1]),
          (0...1).contains(s), f > 0 && f <= 1
        else { throw ScenarioError("variable '\(name)': hot needs [share of draws, fraction of the range]") }
        share = s
        fraction = f
      }
      return .integer(low: Int64(low), high: Int64(high), hotShare: share, hotFraction: fraction)
    }
    if let range = mapping["decimal"] as? [Any] {
      guard range.count == 2, let low = number(range[0]), let high = number(range[1]), low < high else {
        throw ScenarioError("variable '\(name)': decimal needs [low, high] with low < high")
      }
      // Scaled by up to 10^9 decimals, ±1e9 still fits Int64 (and excludes infinities).
      guard low >= -1e9, high <= 1e9 else {
        throw ScenarioError("variable '\(name)': decimal bounds must be within ±1e9")
      }
      let decimals = mapping["decimals"] as? Int ?? 2
      guard (0...9).contains(decimals) else { throw ScenarioError("variable '\(name)': decimals must be 0...9") }
      return .decimal(low: low, high: high, decimals: decimals)
    }
    if let options = mapping["choice"] as? [Any], !options.isEmpty {
      return .choice(options.map { "\($0)" })
    }
    throw ScenarioError("variable '\(name)' must be {int: [a, b]}, {decimal: [a, b]} or {choice: [...]}")
  }

  private static func number(_ value: Any) -> Double? {
    if let double = value as? Double { return double }
    if let integer = value as? Int { return Double(integer) }
    return nil
  }
}

extension Scenario {
  /// The built-in `fraud` scenario for featureserver: 70 % GET /features across customers,
  /// accounts and merchants of the bundled data (80 % of ids from a hot tenth), 30 % POST
  /// /predict with generated transactions. Users run flat out (no wait), as wrk does.
  public static let fraud: Scenario = {
    let yaml = """
      name: fraud
      variables:
        customer: {int: [1, 5000], hot: [0.8, 0.1]}
        account: {int: [1, 6000], hot: [0.8, 0.1]}
        merchant: {int: [1, 800], hot: [0.8, 0.1]}
        amount: {decimal: [1, 900], decimals: 2}
        category: {choice: [grocery, restaurants, fuel, electronics, travel, apparel, digital_goods, gambling, crypto, wire_transfer]}
        device: {choice: [true, true, true, true, true, true, true, true, true, false]}
        location: {choice: [true, true, true, true, true, true, true, true, true, false]}
        velocity: {int: [0, 9]}
      requests:
        - {name: "/features/:entity/:id", path: "/features/customer/{customer}", weight: 30, expect_status: 200}
        - {name: "/features/:entity/:id", path: "/features/account/{account}", weight: 25, expect_status: 200}
        - {name: "/features/:entity/:id", path: "/features/merchant/{merchant}", weight: 15, expect_status: 200}
        - name: /predict
          method: POST
          path: /predict
          headers: {Content-Type: application/json}
          body: '{{"transaction_id":"u{user}-{counter}","customer_id":{customer},"account_id":{account},"merchant_id":{merchant},"amount":{amount},"merchant_category":"{category}","device_known":{device},"location_match":{location},"transactions_last_hour":{velocity}}}'
          weight: 30
          expect_status: 200
      """
    do {
      return try Scenario.parse(yaml: yaml)
    } catch {
      fatalError("the built-in fraud scenario does not parse: \(error)")
    }
  }()
}
