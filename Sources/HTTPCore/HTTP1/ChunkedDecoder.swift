import Codecs

/// An incremental decoder for the chunked transfer coding (RFC 9112 §7.1).
///
/// Feed it whatever bytes have arrived; it appends decoded data to a body and says how much it
/// consumed. Chunk extensions are checked and ignored; trailer fields are checked and dropped
/// (never merged into the header fields). Sizes are bounded by the body limit, so a long hex
/// number cannot overflow.
struct ChunkedDecoder {
  enum Outcome: Equatable {
    /// All input consumed; the body is not complete yet.
    case needMore
    /// The body is complete after `consumed` bytes of the input.
    case done(consumed: Int)
    case failure(HTTPParseError)
  }

  private enum State {
    case size
    case extensions
    case sizeLineFeed
    case data
    case dataCarriageReturn
    case dataLineFeed
    case trailerLineStart
    case trailerLine
    case trailerLineFeed
    case finalLineFeed
  }

  private var state = State.size
  private var chunkRemaining = 0
  private var sizeDigits = 0
  private var lineBytes = 0
  private var trailerBytes = 0
  private var trailerCount = 0
  private var trailerLineSawColon = false
  private var bodyBytes = 0
  let limits: HTTPLimits

  init(limits: HTTPLimits) {
    self.limits = limits
  }

  /// Decodes as much of `input` as possible, appending chunk data to `body`.
  mutating func decode(_ input: UnsafeRawBufferPointer, into body: inout [UInt8]) -> Outcome {
    guard let base = input.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return .needMore }
    let count = input.count
    var index = 0
    while index < count {
      let byte = base[index]
      switch state {
      case .size:
        let digit = ASCII.hexValue(byte)
        if digit >= 0 {
          sizeDigits += 1
          lineBytes += 1
          chunkRemaining = chunkRemaining << 4 | digit
          if sizeDigits > 15 || bodyBytes + chunkRemaining > limits.maxBodyBytes {
            return .failure(HTTPParseError(.contentTooLarge, "body larger than \(limits.maxBodyBytes) bytes"))
          }
          index += 1
          continue
        }
        guard sizeDigits > 0 else { return .failure(bad("chunk size is not a hex number")) }
        if byte == .cr {
          state = .sizeLineFeed
        } else if byte == UInt8(ascii: ";") || byte == .space || byte == .tab {
          state = .extensions
          lineBytes += 1
        } else {
          return .failure(bad("invalid character after the chunk size"))
        }
        index += 1
      case .extensions:
        if byte == .cr {
          state = .sizeLineFeed
        } else if byte == .lf || !ByteClass.isFieldValue(byte) {
          return .failure(bad("invalid character in a chunk extension"))
        } else {
          lineBytes += 1
          if lineBytes > limits.maxChunkLineBytes {
            return .failure(bad("chunk extensions longer than \(limits.maxChunkLineBytes) bytes"))
          }
        }
        index += 1
      case .sizeLineFeed:
        guard byte == .lf else { return .failure(bad("chunk size line not ended by CRLF")) }
        index += 1
        lineBytes = 0
        sizeDigits = 0
        if chunkRemaining == 0 {
          state = .trailerLineStart
        } else {
          state = .data
        }
      case .data:
        let take = min(chunkRemaining, count - index)
        body.append(contentsOf: UnsafeBufferPointer(start: base + index, count: take))
        bodyBytes += take
        chunkRemaining -= take
        index += take
        if chunkRemaining == 0 { state = .dataCarriageReturn }
      case .dataCarriageReturn:
        guard byte == .cr else { return .failure(bad("chunk data not followed by CRLF")) }
        state = .dataLineFeed
        index += 1
      case .dataLineFeed:
        guard byte == .lf else { return .failure(bad("chunk data not followed by CRLF")) }
        state = .size
        index += 1
      case .trailerLineStart:
        if byte == .cr {
          state = .finalLineFeed
          index += 1
          continue
        }
        guard ByteClass.isToken(byte) else { return .failure(bad("malformed trailer field")) }
        trailerCount += 1
        if trailerCount > limits.maxHeaderCount {
          return .failure(HTTPParseError(.requestHeaderFieldsTooLarge, "too many trailer fields"))
        }
        trailerLineSawColon = false
        state = .trailerLine
      case .trailerLine:
        trailerBytes += 1
        if trailerBytes > limits.maxHeaderBytes {
          return .failure(HTTPParseError(.requestHeaderFieldsTooLarge, "trailer section too large"))
        }
        if byte == .cr {
          guard trailerLineSawColon else { return .failure(bad("malformed trailer field")) }
          state = .trailerLineFeed
        } else if !trailerLineSawColon {
          if byte == .colon {
            trailerLineSawColon = true
          } else if !ByteClass.isToken(byte) {
            return .failure(bad("malformed trailer field"))
          }
        } else if !ByteClass.isFieldValue(byte) {
          return .failure(bad("invalid character in a trailer field"))
        }
        index += 1
      case .trailerLineFeed:
        guard byte == .lf else { return .failure(bad("trailer field not ended by CRLF")) }
        state = .trailerLineStart
        index += 1
      case .finalLineFeed:
        guard byte == .lf else { return .failure(bad("chunked body not ended by CRLF")) }
        return .done(consumed: index + 1)
      }
    }
    return .needMore
  }

  private func bad(_ reason: String) -> HTTPParseError {
    HTTPParseError(.badRequest, reason)
  }
}
