import ArgumentParser
import CommandLineEnvironment
import HTTPCore
import Reactor

/// The `featureserver` executable.
@main
struct FeatureServerCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "featureserver",
    abstract: "Low-latency online feature serving for fraud models.",
    subcommands: [ServeCommand.self, LoadCommand.self, WindowsCommand.self],
    defaultSubcommand: ServeCommand.self)

  static func main() {
    let arguments = Array(CommandLine.arguments.dropFirst())
    // Environment variables apply to `serve` (the long-running command).
    let isServe = arguments.first.map { $0 == "serve" || $0.hasPrefix("-") } ?? true
    if isServe {
      // Before any thread exists (Foundation starts some on its own), so that every thread
      // inherits the block and SIGTERM/SIGINT arrive only through ServerRunner's signalfd.
      SignalWatcher.blockShutdownSignals()
    }
    main(
      isServe && !arguments.contains("--help")
        ? EnvironmentFlags.merged(arguments, prefix: "FEATURESERVER_", for: ServeCommand.self) : arguments)
  }
}
