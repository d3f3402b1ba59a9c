import ArgumentParser

#if canImport(Glibc)
  import Glibc
#endif

/// Settings from the environment: with the prefix `FEATURESERVER_`, `FEATURESERVER_MAX_BODY_BYTES=2048`
/// acts as `--max-body-bytes 2048` unless that flag is on the command line (flags win). Both of
/// the project's commands take their flags this way (`FEATURESERVER_`, `LOADGEN_`), as Locust
/// takes `LOCUST_USERS` for `--users`.
public enum EnvironmentFlags {
  /// The flags a command's help lists.
  struct CommandFlags {
    /// Every `--name` (both spellings of `--[no-]http2`).
    var known: Set<String> = []
    /// The flags that take no value.
    var switches: Set<String> = []
    /// A long flag's short spelling (`--run-time` → `-t`): either on the command line means given.
    var shortNames: [String: String] = [:]
  }

  /// The flags of `command` as its help lists them: "-t, --run-time <run-time>" takes a value and
  /// has a short spelling; "--share-port" and "--http2/--no-http2" take none.
  static func flags(of command: ParsableCommand.Type) -> CommandFlags {
    var flags = CommandFlags()
    let words = command.helpMessage(columns: 1000).split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "," })
    for (index, word) in words.enumerated() where word.hasPrefix("--") {
      let takesValue = index + 1 < words.count && words[index + 1].hasPrefix("<")
      let short = index > 0 && words[index - 1].count == 2 && words[index - 1].hasPrefix("-") ? words[index - 1] : nil
      for name in spellings(String(word)) where !notFromEnvironment.contains(name) {
        flags.known.insert(name)
        if !takesValue { flags.switches.insert(name) }
        if let short { flags.shortNames[name] = String(short) }
      }
    }
    return flags
  }

  /// `arguments` with the command's flags from `prefix`ed environment variables added (see `merged`).
  public static func merged(_ arguments: [String], prefix: String, for command: ParsableCommand.Type) -> [String] {
    merged(arguments, prefix: prefix, flags: flags(of: command))
  }

  /// Flags that would stop a long-running command from running at all.
  static let notFromEnvironment: Set<String> = ["--help", "--version", "--help-hidden", "--experimental-dump-help"]

  /// The flag names a help entry stands for: `--http2/--no-http2` is both.
  static func spellings(_ word: String) -> [String] {
    word.split(separator: "/").map(String.init).filter { $0.hasPrefix("--") }
  }

  /// `arguments` with a `--flag=value` appended for each `prefix` variable whose flag is not
  /// already given. Only flags the command knows are taken, so unrelated variables with the
  /// prefix cannot break start-up. A switch (a flag without a value) is set by `true`, `1`,
  /// `yes` or `on`; `false`, `0`, `no` or `off` turns on its `--no-` form when there is one and
  /// leaves the default otherwise.
  static func merged(_ arguments: [String], prefix: String, flags: CommandFlags) -> [String] {
    var result = arguments
    for text in processEnvironment() {
      guard text.hasPrefix(prefix), let equals = text.firstIndex(of: "=") else { continue }
      let name = text[text.index(text.startIndex, offsetBy: prefix.count)..<equals]
      let flag = "--" + name.lowercased().split(separator: "_", omittingEmptySubsequences: false).joined(separator: "-")
      guard flags.known.contains(flag) else { continue }
      let negated = "--no-" + flag.dropFirst(2)
      let short = flags.shortNames[flag]
      let given = arguments.contains { $0 == flag || $0.hasPrefix(flag + "=") || $0 == negated || $0 == short }
      if given { continue }
      let value = String(text[text.index(after: equals)...])
      guard flags.switches.contains(flag) else {
        // One `--flag=value` argument: as two, a value that starts with `-` (a negative number)
        // would be read as a flag and the flag refused as missing its value.
        result.append(flag + "=" + value)
        continue
      }
      switch value.lowercased() {
      case "true", "1", "yes", "on": result.append(flag)
      case "false", "0", "no", "off": if flags.known.contains(negated) { result.append(negated) }
      default: result += [flag, value]  // refused by the parser, naming the flag
      }
    }
    return result
  }

  /// `NAME=value` entries of this process's environment, in their order.
  static func processEnvironment() -> [String] {
    var entries: [String] = []
    var entry = environ
    while let pointer = entry.pointee {
      entries.append(String(cString: pointer))
      entry += 1
    }
    return entries
  }
}
