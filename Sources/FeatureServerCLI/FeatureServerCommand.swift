import ArgumentParser
import HTTPCore
import Reactor

/// The `featureserver` executable.
@main
struct FeatureServerCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "featureserver",
    abstract: "Low-latency online feature serving for fraud models.",
    subcommands: [ServeCommand.self, LoadCommand.self],
    defaultSubcommand: ServeCommand.self)

  static func main() {
    let arguments = Array(CommandLine.arguments.dropFirst())
    // Environment variables apply to `serve` (the long-running command).
    let known = Set(
      ServeCommand.helpMessage(columns: 1000).split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "," })
        .filter { $0.hasPrefix("--") }.map(String.init))
    let isServe = arguments.first.map { $0 == "serve" || $0.hasPrefix("-") } ?? true
    if isServe {
      // Before any thread exists (Foundation starts some on its own), so that every thread
      // inherits the block and SIGTERM/SIGINT arrive only through ServerRunner's signalfd.
      SignalWatcher.blockShutdownSignals()
    }
    main(isServe && !arguments.contains("--help") ? EnvironmentFlags.merged(arguments, knownFlags: known) : arguments)
  }
}
