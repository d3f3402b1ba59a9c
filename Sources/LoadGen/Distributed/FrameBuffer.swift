/// Length-prefixed frames: a 4-byte big-endian payload length, then the payload. Bytes arrive in
/// any pieces; complete frames come out in order. A length above the bound is an error, found
/// from the first 4 bytes, before anything of that size is buffered.
struct FrameBuffer {
  enum Output: Equatable {
    case frame([UInt8])
    /// Need more bytes.
    case incomplete
    /// The peer announced a frame of this many bytes, more than the bound.
    case tooLarge(Int)
  }

  let maximumFrameBytes: Int
  private var bytes: [UInt8] = []
  private var head = 0

  init(maximumFrameBytes: Int) { self.maximumFrameBytes = maximumFrameBytes }

  mutating func append<Bytes: Sequence<UInt8>>(_ data: Bytes) { bytes.append(contentsOf: data) }

  /// The next complete frame, if one is buffered.
  mutating func next() -> Output {
    guard bytes.count - head >= 4 else { return .incomplete }
    var length = 0
    for offset in 0..<4 { length = length << 8 | Int(bytes[head + offset]) }
    guard length <= maximumFrameBytes else { return .tooLarge(length) }
    guard bytes.count - head - 4 >= length else { return .incomplete }
    let frame = Array(bytes[(head + 4)..<(head + 4 + length)])
    head += 4 + length
    if head == bytes.count {
      bytes.removeAll(keepingCapacity: true)
      head = 0
    } else if head > 65536 {
      bytes.removeFirst(head)
      head = 0
    }
    return .frame(frame)
  }

  /// `payload` with its length prefix.
  static func frame(_ payload: [UInt8]) -> [UInt8] {
    let length = UInt32(truncatingIfNeeded: payload.count)
    return [UInt8(length >> 24), UInt8(length >> 16 & 0xff), UInt8(length >> 8 & 0xff), UInt8(length & 0xff)]
      + payload
  }
}
