#if canImport(Glibc)
  import Glibc
#endif

/// Settings from the environment: `FEATURESERVER_MAX_BODY_BYTES=2048` acts as
/// `--max-body-bytes 2048` unless that flag is on the command line (flags win).
enum EnvironmentFlags {
  static let prefix = "FEATURESERVER_"

  /// The flag names a help entry stands for: `--http2/--no-http2` is both.
  static func spellings(_ word: String) -> [String] {
    word.split(separator: "/").map(String.init).filter { $0.hasPrefix("--") }
  }

  /// `arguments` with a `--flag value` appended for each FEATURESERVER_ variable whose flag is
  /// not already given. Only flags the subcommand knows are taken, so unrelated variables with
  /// the prefix cannot break start-up. A switch (a flag without a value) is set by `true`, `1`
  /// or `yes`; `false`, `0` or `no` turns on its `--no-` form when there is one.
  static func merged(_ arguments: [String], knownFlags: Set<String>, switches: Set<String> = []) -> [String] {
    var result = arguments
    var entry = environ
    while let pointer = entry.pointee {
      defer { entry += 1 }
      let text = String(cString: pointer)
      guard text.hasPrefix(prefix), let equals = text.firstIndex(of: "=") else { continue }
      let name = text[text.index(text.startIndex, offsetBy: prefix.count)..<equals]
      let flag = "--" + name.lowercased().replacingOccurrences(of: "_", with: "-")
      guard knownFlags.contains(flag) else { continue }
      let negated = "--no-" + flag.dropFirst(2)
      let given = arguments.contains { $0 == flag || $0.hasPrefix(flag + "=") || $0 == negated }
      if given { continue }
      let value = String(text[text.index(after: equals)...])
      guard switches.contains(flag) else {
        result += [flag, value]
        continue
      }
      switch value.lowercased() {
      case "true", "1", "yes", "on": result.append(flag)
      case "false", "0", "no", "off": if knownFlags.contains(negated) { result.append(negated) }
      default: result += [flag, value]  // refused by the parser, naming the flag
      }
    }
    return result
  }
}

extension String {
  fileprivate func replacingOccurrences(of target: String, with replacement: String) -> String {
    split(separator: Character(target), omittingEmptySubsequences: false).joined(separator: replacement)
  }
}
