#if canImport(Glibc)
  import Glibc
#endif

/// A failed system call: the call's name and the errno it left.
public struct SystemError: Error, CustomStringConvertible, Equatable {
  /// The system call or operation that failed, e.g. `"bind"`.
  public let call: String
  /// The errno value.
  public let code: Int32

  public init(_ call: String, code: Int32 = errno) {
    self.call = call
    self.code = code
  }

  public var description: String {
    "\(call): \(String(cString: strerror(code))) (errno \(code))"
  }
}

/// Writes a line to standard error with one write(2): `stderr` is not concurrency-safe in Swift 6.
public func writeDiagnostic(_ message: String) {
  var line = message
  line.append("\n")
  line.withUTF8 { bytes in
    var offset = 0
    while offset < bytes.count {
      let n = write(2, bytes.baseAddress! + offset, bytes.count - offset)
      if n <= 0 { return }
      offset += n
    }
  }
}
