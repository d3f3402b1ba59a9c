import Codecs

/// A random or counting value a request template can use: `{name}` in a path, header or body.
public enum VariableGenerator: Sendable, Equatable {
  /// A uniform integer in `low...high`; with `hotShare`, that share of draws falls in the first
  /// `hotFraction` of the range (a hot set of ids).
  case integer(low: Int64, high: Int64, hotShare: Double = 0, hotFraction: Double = 0)
  /// A uniform decimal in `low..<high` with `decimals` digits after the point.
  case decimal(low: Double, high: Double, decimals: Int)
  /// One of the texts, uniformly.
  case choice([String])
  /// 1, 2, 3, … per user.
  case counter
  /// The user's number.
  case user

  /// Appends one value to `output`.
  func append(to output: inout [UInt8], random: inout FastRandom, user: Int, counter: Int) {
    switch self {
    case .integer(let low, let high, let hotShare, let hotFraction):
      var top = high
      if hotShare > 0, random.unit() < hotShare {
        top = low + max(0, Int64(Double(high - low) * hotFraction))
      }
      DecimalDigits.append(low + Int64(random.next() % UInt64(top - low + 1)), to: &output)
    case .decimal(let low, let high, let decimals):
      let value = low + random.unit() * (high - low)
      var scale: Int64 = 1
      for _ in 0..<decimals { scale *= 10 }
      let scaled = Int64((value * Double(scale)).rounded())
      DecimalDigits.append(scaled / scale, to: &output)
      if decimals > 0 {
        output.append(UInt8(ascii: "."))
        var fraction = String(scaled % scale)
        while fraction.utf8.count < decimals { fraction = "0" + fraction }
        output.append(contentsOf: fraction.utf8)
      }
    case .choice(let options):
      output.append(contentsOf: options[Int(random.next() % UInt64(options.count))].utf8)
    case .counter:
      DecimalDigits.append(Int64(counter), to: &output)
    case .user:
      DecimalDigits.append(Int64(user), to: &output)
    }
  }
}

/// Text with `{variable}` placeholders, compiled once into literal and variable parts.
public struct Template: Sendable, Equatable {
  enum Part: Sendable, Equatable {
    case literal([UInt8])
    case variable(Int)
  }

  let parts: [Part]

  /// Compiles `text` against the variable names (by index); `{{` is a literal brace.
  /// Throws naming an unknown variable.
  public init(_ text: String, variables: [String]) throws {
    var parts: [Part] = []
    var literal: [UInt8] = []
    let bytes = Array(text.utf8)
    var index = 0
    while index < bytes.count {
      let byte = bytes[index]
      if byte == UInt8(ascii: "{") {
        if index + 1 < bytes.count && bytes[index + 1] == UInt8(ascii: "{") {
          literal.append(byte)
          index += 2
          continue
        }
        guard let close = bytes[index...].firstIndex(of: UInt8(ascii: "}")) else {
          throw ScenarioError("unclosed '{' in \"\(text)\"")
        }
        let name = String(decoding: bytes[(index + 1)..<close], as: UTF8.self)
        guard let variable = variables.firstIndex(of: name) else {
          throw ScenarioError(
            "unknown variable {\(name)} in \"\(text)\" (defined: \(variables.joined(separator: ", ")))")
        }
        if !literal.isEmpty { parts.append(.literal(literal)) }
        literal = []
        parts.append(.variable(variable))
        index = close + 1
        continue
      }
      if byte == UInt8(ascii: "}") && index + 1 < bytes.count && bytes[index + 1] == UInt8(ascii: "}") {
        literal.append(byte)
        index += 2
        continue
      }
      literal.append(byte)
      index += 1
    }
    if !literal.isEmpty { parts.append(.literal(literal)) }
    self.parts = parts
  }

  /// The first byte `allowed` refuses in any text the template can render with `generators`
  /// (its literal parts and every `choice` option), or nil when there is none.
  func firstRefusedByte(generators: [VariableGenerator], allowed: (UInt8) -> Bool) -> UInt8? {
    for part in parts {
      switch part {
      case .literal(let bytes):
        if let bad = bytes.first(where: { !allowed($0) }) { return bad }
      case .variable(let index):
        if case .choice(let options) = generators[index] {
          for option in options { if let bad = option.utf8.first(where: { !allowed($0) }) { return bad } }
        }
      }
    }
    return nil
  }

  /// Whether the template has no variables.
  public var isConstant: Bool { !parts.contains { if case .variable = $0 { true } else { false } } }

  /// Appends the rendered text to `output`.
  func render(
    into output: inout [UInt8], generators: [VariableGenerator], random: inout FastRandom, user: Int, counter: Int
  ) {
    for part in parts {
      switch part {
      case .literal(let bytes): output.append(contentsOf: bytes)
      case .variable(let index):
        generators[index].append(to: &output, random: &random, user: user, counter: counter)
      }
    }
  }
}

/// xorshift64*: a fast per-user generator (not for secrets).
public struct FastRandom: Sendable {
  var state: UInt64

  public init(seed: UInt64) { state = seed == 0 ? 0x9E37_79B9_7F4A_7C15 : seed }

  public mutating func next() -> UInt64 {
    state ^= state >> 12
    state ^= state << 25
    state ^= state >> 27
    return state &* 0x2545_F491_4F6C_DD1D
  }

  /// A uniform double in [0, 1).
  public mutating func unit() -> Double { Double(next() >> 11) * 0x1.0p-53 }
}

/// Why a scenario or a flag was refused.
public struct ScenarioError: Error, CustomStringConvertible, Sendable {
  public let description: String
  public init(_ description: String) { self.description = description }
}
