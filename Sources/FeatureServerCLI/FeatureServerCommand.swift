import ArgumentParser
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
    // From the help text: "--port <port>" takes a value, "--share-port" and "--[no-]http2" do not.
    var known = Set<String>()
    var switches = Set<String>()
    let words = ServeCommand.helpMessage(columns: 1000).split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "," })
    for (index, word) in words.enumerated() where word.hasPrefix("--") {
      let takesValue = index + 1 < words.count && words[index + 1].hasPrefix("<")
      for name in EnvironmentFlags.spellings(String(word)) {
        known.insert(name)
        if !takesValue { switches.insert(name) }
      }
    }
    let isServe = arguments.first.map { $0 == "serve" || $0.hasPrefix("-") } ?? true
    if isServe {
      // Before any thread exists (Foundation starts some on its own), so that every thread
      // inherits the block and SIGTERM/SIGINT arrive only through ServerRunner's signalfd.
      SignalWatcher.blockShutdownSignals()
    }
    main(
      isServe && !arguments.contains("--help")
        ? EnvironmentFlags.merged(arguments, knownFlags: known, switches: switches) : arguments)
  }
}
