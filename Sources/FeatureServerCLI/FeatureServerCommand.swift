import ArgumentParser

/// The `featureserver` executable.
@main
struct FeatureServerCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "featureserver",
    abstract: "Low-latency online feature serving for fraud models.",
    subcommands: [ServeCommand.self],
    defaultSubcommand: ServeCommand.self)

  static func main() {
    let arguments = Array(CommandLine.arguments.dropFirst())
    let known = Set(
      ServeCommand.helpMessage().split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "," })
        .filter { $0.hasPrefix("--") }.map(String.init))
    main(EnvironmentFlags.merged(arguments, knownFlags: known))
  }
}
