#if canImport(Glibc)
  import Glibc
#endif

/// Settings from the environment: `FEATURESERVER_MAX_BODY_BYTES=2048` acts as
/// `--max-body-bytes 2048` unless that flag is on the command line (flags win).
enum EnvironmentFlags {
  static let prefix = "FEATURESERVER_"

  /// `arguments` with a `--flag value` appended for each FEATURESERVER_ variable whose flag is
  /// not already given. Only flags the subcommand knows are taken, so unrelated variables with
  /// the prefix cannot break start-up.
  static func merged(_ arguments: [String], knownFlags: Set<String>) -> [String] {
    var result = arguments
    var entry = environ
    while let pointer = entry.pointee {
      defer { entry += 1 }
      let text = String(cString: pointer)
      guard text.hasPrefix(prefix), let equals = text.firstIndex(of: "=") else { continue }
      let name = text[text.index(text.startIndex, offsetBy: prefix.count)..<equals]
      let flag = "--" + name.lowercased().replacingOccurrences(of: "_", with: "-")
      guard knownFlags.contains(flag) else { continue }
      let given = arguments.contains { $0 == flag || $0.hasPrefix(flag + "=") }
      if !given { result += [flag, String(text[text.index(after: equals)...])] }
    }
    return result
  }
}

extension String {
  fileprivate func replacingOccurrences(of target: String, with replacement: String) -> String {
    split(separator: Character(target), omittingEmptySubsequences: false).joined(separator: replacement)
  }
}
