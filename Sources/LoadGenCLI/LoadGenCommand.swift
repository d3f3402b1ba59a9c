import ArgumentParser
import Codecs
import Foundation
import HTTPCore
import LoadGen
import Reactor

/// `loadgen`: a Locust-style load generator that asserts latency SLOs.
@main
struct LoadGenCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "loadgen",
    abstract: "Locust-style load generation with HdrHistogram latencies, open-loop mode and SLO thresholds.",
    discussion: """
      Closed loop (Locust's model): -u users, started at -r per second, each running the scenario's
      weighted tasks with its wait_time. Open loop (--rate N): N requests per second at a constant
      arrival rate over -u connections; latency counts from each request's scheduled time, so
      queueing shows (coordinated omission corrected).
      Exit code: 0 when every --threshold holds, 1 when one fails, 2 on usage errors or when the
      target cannot be reached.
      """)

  @Option(help: "Target base URL, e.g. http://127.0.0.1:8080.")
  var host: String

  @Option(name: [.customShort("u"), .long], help: "Users (closed loop) or connections (open loop).")
  var users = 10

  @Option(name: [.customShort("r"), .long], help: "Users started per second.")
  var spawnRate = 10.0

  @Option(name: [.customShort("t"), .long], help: "Run time: 30s, 5m, 1h, or plain seconds.")
  var runTime = "30s"

  @Option(help: "Seconds requests in flight may finish after the run time.")
  var stopTimeout = 0.0

  @Option(help: "Open loop: requests per second at a constant arrival rate.")
  var rate: Double?

  @Option(help: "Scenario YAML file, or a built-in scenario: 'fraud'.")
  var scenario = "fraud"

  @Option(help: "Event loops (threads). Default: one per core.")
  var threads = EventLoopGroup.coreCount

  @Option(help: "Seconds a request may take before it fails as a timeout.")
  var requestTimeout = 10.0

  @Flag(
    help:
      "HTTP/2 (h2c, prior knowledge): users share connections, --streams-per-connection each; every request is a stream."
  )
  var http2 = false

  @Option(help: "With --http2: users (or open-loop senders) per connection, i.e. concurrent streams on each.")
  var streamsPerConnection = 10

  @Option(
    name: .customLong("threshold"),
    help: ArgumentHelp(
      "SLO to assert, repeatable: [name:]metric<value; metric pN, avg, max, error_rate, rps. E.g. 'p99<10ms', 'error_rate<1%', 'GET /features/:entity/:id:p99<5ms'.",
      valueName: "expression"))
  var thresholds: [String] = []

  @Option(help: "Write PREFIX_stats.csv, PREFIX_stats_history.csv, PREFIX_failures.csv (Locust's columns).")
  var csv: String?

  @Option(help: "Write a self-contained HTML report.")
  var html: String?

  @Flag(help: "Print a JSON summary on standard output instead of the tables.")
  var json = false

  @Flag(help: "No live line even on a terminal.")
  var quiet = false

  /// Usage errors exit 2 (ArgumentParser's default is 64), as the thresholds' contract says.
  static func main() {
    do {
      var command = try parseAsRoot()
      try command.run()
    } catch {
      if exitCode(for: error) == .validationFailure {
        FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
        Foundation.exit(2)
      }
      exit(withError: error)
    }
  }

  func validate() throws {
    guard users >= 1 else { throw ValidationError("--users must be at least 1") }
    guard spawnRate > 0 else { throw ValidationError("--spawn-rate must be more than 0") }
    guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
    guard stopTimeout >= 0, requestTimeout > 0 else {
      throw ValidationError("--stop-timeout must be 0 or more and --request-timeout more than 0")
    }
    if let rate, rate <= 0 { throw ValidationError("--rate must be more than 0") }
    guard streamsPerConnection >= 1 && streamsPerConnection <= 1000 else {
      throw ValidationError("--streams-per-connection must be 1...1000")
    }
    guard DurationText.seconds(runTime) != nil else {
      throw ValidationError("--run-time '\(runTime)': expected e.g. 30s, 5m, 1h or 1h30m")
    }
  }

  func run() throws {
    let parsedThresholds: [Threshold]
    let loaded: Scenario
    let target: Target
    let seconds: Double
    do {
      parsedThresholds = try thresholds.map { try Threshold(parsing: $0) }
      loaded = scenario == "fraud" ? .fraud : try Scenario.load(path: scenario)
      target = try Target(url: host)
      guard let parsed = DurationText.seconds(runTime) else { throw ScenarioError("--run-time '\(runTime)'") }
      seconds = parsed
    } catch let error as ScenarioError {
      throw ValidationError(error.description)
    }
    var options = LoadOptions(address: target.address, port: target.port, hostHeader: target.hostHeader)
    options.users = users
    options.spawnRate = spawnRate
    options.runTime = seconds
    options.stopTimeout = stopTimeout
    options.rate = rate
    options.threads = threads
    options.requestTimeout = requestTimeout
    options.http2 = http2
    options.streamsPerConnection = streamsPerConnection

    let live = !quiet && !json && isatty(STDERR_FILENO) == 1
    let runner = try LoadRunner(scenario: loaded, options: options)
    let result = try runner.run { point in
      if live { FileHandle.standardError.write(Data((ConsoleReport.liveLine(point) + "\n").utf8)) }
    }
    let outcomes = parsedThresholds.map { $0.evaluate(result) }
    if let csv { try CSVReport.write(result, prefix: csv) }
    if let html {
      do {
        try HTMLReport.render(result, thresholds: outcomes).write(toFile: html, atomically: true, encoding: .utf8)
      } catch {
        throw ValidationError("cannot write \(html): \(error.localizedDescription)")
      }
    }
    if json {
      print(JSONReport.render(result, thresholds: outcomes))
    } else {
      let lines =
        ConsoleReport.statistics(result) + [""] + ConsoleReport.percentiles(result) + [""]
        + ConsoleReport.failures(result)
      print(lines.joined(separator: "\n"))
      if result.options.rate != nil {
        let statistics = result.statistics
        if statistics.lateStarts > 0 {
          print(
            "WARNING: the generator fell behind schedule: \(statistics.lateStarts) of \(statistics.scheduled) requests started more than 1 ms late (max lag \(String(format: "%.3f", Double(statistics.maxLagMicroseconds) / 1000)) ms); the rate is more than this machine can drive"
          )
        } else {
          print("Schedule kept: \(statistics.scheduled) requests, none started more than 1 ms late.")
        }
      }
      for outcome in outcomes { print(outcome.verdict) }
    }
    if result.connectFailuresOnly {
      FileHandle.standardError.write(Data("loadgen: cannot reach \(host): every request failed to connect\n".utf8))
      throw ExitCode(2)
    }
    if outcomes.contains(where: { !$0.passed }) { throw ExitCode(1) }
  }
}

/// `http://host:port` resolved to a numeric address.
struct Target {
  let address: String
  let port: Int
  let hostHeader: String

  init(url: String) throws {
    guard let components = URLComponents(string: url), components.scheme == "http", let host = components.host,
      !host.isEmpty
    else {
      throw ScenarioError("--host must be http://host[:port] (https is not supported), got '\(url)'")
    }
    port = components.port ?? 80
    hostHeader = components.port.map { "\(host):\($0)" } ?? host
    do {
      address = try HostResolution.numericAddress(of: host, preferIPv4: true)
    } catch {
      throw ScenarioError("--host: \(error)")
    }
  }
}
