/// One HTTP/2 stream's request as it arrives and its response as it leaves.
final class HTTP2Stream {
  let id: Int32
  /// When its HEADERS began (loop clock), for the body deadline.
  let startedAt: UInt64
  var method = ""
  var path = ""
  var authority = ""
  var scheme = ""
  var headers = HTTPHeaders()
  /// Bytes of the header list so far (name + value + 32 per field, RFC 9113 §6.5.2).
  var headerListBytes = 0
  var body: [UInt8] = []
  /// Body bytes reserved in the process-wide body budget.
  var reservedBodyBytes = 0
  /// The request was handed to the dispatcher (its END_STREAM arrived).
  var dispatched = false
  /// Refused before dispatch (413, 503...): further DATA is dropped.
  var refused = false
  /// The response being sent: its body and how much nghttp2 has taken.
  var responseBody: [UInt8] = []
  var responseOffset = 0
  /// The response is submitted and its last DATA frame not yet sent.
  var responding = false

  init(id: Int32, startedAt: UInt64) {
    self.id = id
    self.startedAt = startedAt
  }

  /// Response bytes still held for nghttp2 to take.
  var heldBytes: Int { responseBody.count - responseOffset }
}
