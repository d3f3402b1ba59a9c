#if canImport(Glibc)
  import Glibc
#endif

/// RFC 4180 CSV read incrementally: fed chunks of a file of any size, it hands back each
/// record as it completes (quoted fields with doubled quotes, CRLF or LF line ends), holding only
/// the record being read. Records keep the line they start on, for error reports.
struct CSVReader {
  /// One record: its fields' bytes, back to back, and where each field is in them.
  struct Record {
    var line: Int
    var bytes: [UInt8] = []
    var ends: [Int] = []

    var fieldCount: Int { ends.count }

    /// The bytes of field `index`.
    func withField<T>(_ index: Int, _ body: (UnsafeRawBufferPointer) -> T) -> T {
      let start = index == 0 ? 0 : ends[index - 1]
      return bytes.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[start..<ends[index]])) }
    }

    func field(_ index: Int) -> String { withField(index) { String(decoding: $0, as: UTF8.self) } }
  }

  /// A record longer than this is refused (an unbalanced quote would otherwise read the rest of
  /// the file into one field).
  let maxRecordBytes: Int

  private enum State { case unquoted, quoted, quoteInQuoted }
  private var state = State.unquoted
  private var record = Record(line: 1)
  private var line = 1

  init(maxRecordBytes: Int = 1 << 20) {
    self.maxRecordBytes = maxRecordBytes
  }

  /// Reads `chunk`, calling `emit` with each record it completes.
  mutating func feed(_ chunk: UnsafeRawBufferPointer, _ emit: (Record) throws -> Void) throws {
    for byte in chunk {
      switch state {
      case .quoted:
        if byte == UInt8(ascii: "\"") {
          state = .quoteInQuoted
        } else {
          if byte == UInt8(ascii: "\n") { line += 1 }
          record.bytes.append(byte)
        }
        continue
      case .quoteInQuoted:
        if byte == UInt8(ascii: "\"") {  // a doubled quote inside a quoted field
          record.bytes.append(byte)
          state = .quoted
          continue
        }
        state = .unquoted
      case .unquoted:
        break
      }
      switch byte {
      case UInt8(ascii: "\""): state = .quoted
      case UInt8(ascii: ","): record.ends.append(record.bytes.count)
      case UInt8(ascii: "\r"): break
      case UInt8(ascii: "\n"):
        try endRecord(emit)
        line += 1
        record.line = line
      default: record.bytes.append(byte)
      }
    }
    // Checked once per chunk: a record holds at most the bound and one chunk.
    if record.bytes.count > maxRecordBytes {
      throw LoaderError("line \(record.line): a record longer than \(maxRecordBytes) bytes (an unbalanced quote?)")
    }
  }

  /// Ends the input: a last record without a line end is still a record.
  mutating func finish(_ emit: (Record) throws -> Void) throws {
    if state == .quoted {
      throw LoaderError("line \(record.line): a quoted field is not closed at the end of the file")
    }
    state = .unquoted
    if !record.bytes.isEmpty || !record.ends.isEmpty { try endRecord(emit) }
  }

  private mutating func endRecord(_ emit: (Record) throws -> Void) throws {
    record.ends.append(record.bytes.count)
    // A blank line is no record.
    if !(record.ends.count == 1 && record.bytes.isEmpty) { try emit(record) }
    record.bytes.removeAll(keepingCapacity: true)
    record.ends.removeAll(keepingCapacity: true)
  }
}

/// A file read in chunks of a fixed size, so a file of any size is read in bounded memory.
enum FileChunks {
  /// Calls `body` with each chunk and the bytes read so far, until the end of the file.
  static func read(
    path: String, chunkSize: Int = 1 << 20, _ body: (UnsafeRawBufferPointer, _ bytesRead: Int) throws -> Void
  ) throws {
    let descriptor = open(path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else { throw LoaderError("cannot read \(path): \(String(cString: strerror(errno)))") }
    defer { close(descriptor) }
    var buffer = [UInt8](repeating: 0, count: max(4096, chunkSize))
    var bytesRead = 0
    while true {
      let count = buffer.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
      if count < 0 {
        if errno == EINTR { continue }
        throw LoaderError("cannot read \(path): \(String(cString: strerror(errno)))")
      }
      if count == 0 { return }
      bytesRead += count
      try buffer.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[0..<count]), bytesRead) }
    }
  }

  /// The size of the file at `path` in bytes (0 when unknown).
  static func size(of path: String) -> Int {
    var status = stat()
    return stat(path, &status) == 0 ? Int(status.st_size) : 0
  }
}
