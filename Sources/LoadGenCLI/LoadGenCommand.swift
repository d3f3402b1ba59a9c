import ArgumentParser
import Codecs
import CommandLineEnvironment
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
      Distributed (Locust's flags): one `loadgen --master --expect-workers N` with the usual
      options, and N `loadgen --worker --master-host H`; the master splits the load, starts the
      workers together and merges their HdrHistograms exactly into the same reports.
      Exit code: 0 when every --threshold holds, 1 when one fails, 2 on usage errors, when the
      target cannot be reached or a worker is refused, 3 when a distributed run lost a worker
      (or a worker lost its master): the results are incomplete.
      Every flag can also be set as an environment variable LOADGEN_<FLAG>, e.g. LOADGEN_USERS=100
      for --users 100 or LOADGEN_MASTER_HOST for --master-host (Locust's LOCUST_ variables);
      flags on the command line win. A switch takes true/false.
      """,
    version: loadgenVersion)

  @Option(help: "Target base URL, e.g. http://127.0.0.1:8080 (not for --worker: the master sends it).")
  var host: String?

  @Flag(help: "Distributed: coordinate workers and merge their results; sends no load itself.")
  var master = false

  @Flag(help: "Distributed: run the load a master hands out.")
  var worker = false

  @Option(help: "--master: workers to wait for before starting.")
  var expectWorkers = 1

  @Option(help: "--master: seconds to wait for --expect-workers before giving up (default: forever).")
  var expectWorkersMaxWait: Double?

  @Option(help: "--master: address to listen on for workers ('*' is every address).")
  var masterBindHost = "*"

  @Option(help: "--master: port to listen on for workers.")
  var masterBindPort = 5557

  @Option(help: "--worker: the master's address.")
  var masterHost = "127.0.0.1"

  @Option(help: "--worker: the master's port.")
  var masterPort = 5557

  @Option(help: "--master: seconds a worker may go without reporting during the run before it is declared lost.")
  var workerTimeout = 5.0

  @Option(help: "Distributed: the largest protocol frame accepted, in bytes.")
  var maxFrameBytes = 16 * 1024 * 1024

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

  @Option(
    help:
      "Scenario YAML file, or a built-in scenario: 'fraud' (the default). A worker needs none (the master sends it); given one, it must be the master's."
  )
  var scenario: String?

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
      let arguments = Array(CommandLine.arguments.dropFirst())
      var command = try parseAsRoot(
        arguments.contains("--help") || arguments.contains("-h")
          ? arguments : EnvironmentFlags.merged(arguments, prefix: "LOADGEN_", for: LoadGenCommand.self))
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
    guard !(master && worker) else { throw ValidationError("--master and --worker exclude each other") }
    if worker {
      guard (1...65535).contains(masterPort) else { throw ValidationError("--master-port must be 1...65535") }
    } else {
      guard host != nil else { throw ValidationError("--host is required (except with --worker)") }
    }
    if master {
      guard expectWorkers >= 1 && expectWorkers <= 1000 else {
        throw ValidationError("--expect-workers must be 1...1000")
      }
      guard (0...65535).contains(masterBindPort) else { throw ValidationError("--master-bind-port must be 0...65535") }
      if let wait = expectWorkersMaxWait, !(wait > 0) {
        throw ValidationError("--expect-workers-max-wait must be more than 0")
      }
      guard workerTimeout >= 1 else { throw ValidationError("--worker-timeout must be at least 1 second") }
    }
    guard maxFrameBytes >= 65536 && maxFrameBytes <= 1 << 30 else {
      throw ValidationError("--max-frame-bytes must be 65536...1073741824")
    }
    guard users >= 1 else { throw ValidationError("--users must be at least 1") }
    guard spawnRate > 0 else { throw ValidationError("--spawn-rate must be more than 0") }
    guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
    guard stopTimeout >= 0, requestTimeout > 0 else {
      throw ValidationError("--stop-timeout must be 0 or more and --request-timeout more than 0")
    }
    // Per load-generating process (a master's are its workers): what one can schedule, and
    // what a worker accepts from its master.
    let processes = master ? expectWorkers : 1
    if let rate, !(rate > 0 && rate <= 10_000_000 * Double(processes)) {
      throw ValidationError("--rate must be more than 0 and at most 10000000 per load-generating process")
    }
    guard users <= 1_000_000 * processes else {
      throw ValidationError("--users must be at most 1000000 per load-generating process")
    }
    guard streamsPerConnection >= 1 && streamsPerConnection <= 1000 else {
      throw ValidationError("--streams-per-connection must be 1...1000")
    }
    guard DurationText.seconds(runTime) != nil else {
      throw ValidationError("--run-time '\(runTime)': expected e.g. 30s, 5m, 1h or 1h30m")
    }
  }

  func run() throws {
    if worker { return try runWorker() }
    let parsedThresholds: [Threshold]
    let source: ScenarioSource
    let loaded: Scenario
    let target: LoadTarget
    let seconds: Double
    do {
      parsedThresholds = try thresholds.map { try Threshold(parsing: $0) }
      source = try ScenarioSource.from(argument: scenario ?? "fraud")
      loaded = try source.load()
      target = try LoadTarget(url: host ?? "")
      guard let parsed = DurationText.seconds(runTime) else { throw ScenarioError("--run-time '\(runTime)'") }
      seconds = parsed
    } catch let error as ScenarioError {
      throw ValidationError(
        scenario.map { error.description.hasPrefix($0) ? error.description : "\($0): \(error)" } ?? error.description)
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
    let result: LoadResult
    if master {
      var masterOptions = MasterOptions(host: host ?? "", scenario: source, load: options)
      masterOptions.bindHost = masterBindHost
      masterOptions.bindPort = masterBindPort
      masterOptions.expectWorkers = expectWorkers
      masterOptions.expectWorkersMaxWait = expectWorkersMaxWait
      masterOptions.heartbeatTimeout = workerTimeout
      masterOptions.maximumFrameBytes = maxFrameBytes
      do {
        let coordinator = try DistributedMaster(options: masterOptions)
        printError("loadgen master: waiting for \(expectWorkers) workers on port \(coordinator.port)")
        result = try coordinator.run(
          progress: { point in if live { printError(ConsoleReport.liveLine(point)) } },
          log: { printError("loadgen master: \($0)") })
      } catch let error as DistributedError {
        printError("loadgen master: \(error)")
        throw ExitCode(2)
      }
    } else {
      let runner = try LoadRunner(scenario: loaded, options: options)
      result = try runner.run(progress: { point in if live { printError(ConsoleReport.liveLine(point)) } })
    }
    try report(result, thresholds: parsedThresholds)
  }

  /// Writes the reports and turns the outcome into the exit code.
  private func report(_ result: LoadResult, thresholds parsedThresholds: [Threshold]) throws {
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
        + ConsoleReport.failures(result) + ConsoleReport.workers(result)
      print(lines.joined(separator: "\n"))
      if let warning = ConsoleReport.schedule(result) { print(warning) }
      for outcome in outcomes { print(outcome.verdict) }
    }
    if result.incomplete {
      printError("loadgen: the run is incomplete: a worker was lost (see the workers table)")
      throw ExitCode(3)
    }
    if result.connectFailuresOnly {
      printError("loadgen: cannot reach \(host ?? ""): every request failed to connect")
      throw ExitCode(2)
    }
    if outcomes.contains(where: { !$0.passed }) { throw ExitCode(1) }
  }

  private func runWorker() throws {
    var options = WorkerOptions()
    options.masterHost = masterHost
    options.masterPort = masterPort
    options.threads = threads
    options.maximumFrameBytes = maxFrameBytes
    do {
      options.scenario = try scenario.map { try ScenarioSource.from(argument: $0) }
    } catch let error as ScenarioError {
      throw ValidationError(error.description)
    }
    let outcome: DistributedWorker.Outcome
    do {
      outcome = try DistributedWorker(options: options).run(log: { printError("loadgen worker: \($0)") })
    } catch let error as DistributedError {
      printError("loadgen worker: \(error)")
      throw ExitCode(2)
    }
    switch outcome {
    case .finished(let requests):
      printError("loadgen worker: finished, \(requests) requests reported to the master")
    case .refused(let reason):
      printError("loadgen worker: refused by the master: \(reason)")
      throw ExitCode(2)
    case .masterLost(let reason):
      printError("loadgen worker: the run ended early: \(reason)")
      throw ExitCode(3)
    }
  }
}

private func printError(_ line: String) {
  FileHandle.standardError.write(Data((line + "\n").utf8))
}
