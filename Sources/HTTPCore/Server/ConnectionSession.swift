import Reactor

/// What one protocol (HTTP/1.1, HTTP/2) does with a connection: it turns the bytes in the
/// connection's input into requests for the dispatcher and puts their answers into the
/// connection's output. The connection (`ServerConnection`) owns the socket, the buffers, the
/// timeouts that do not depend on the protocol and closing; a session never reads or writes the
/// socket itself.
protocol ConnectionSession: AnyObject {
  /// Consumes what it can of the connection's input within `budget` (every complete request it
  /// takes counts against it) and says why it stopped. (The input is reached through the
  /// connection, not passed `inout`: a handler that answers at once may reset it.)
  func process(_ budget: inout PassBudget) -> ProcessResult

  /// False while the session will not take more input (too many requests in flight, or it has
  /// decided to close): the connection then stops reading the socket.
  var wantsInput: Bool { get }

  /// The most bytes the input buffer may grow to before the session must have consumed some
  /// (the longest valid request head, or frame).
  var inputCeiling: Int { get }

  /// The input buffer is full at `inputCeiling` and nothing in it could be consumed.
  func inputOverflowed()

  /// The peer has shut its side: no more input will come. Requests already complete in the
  /// input are still served; a partial one is dropped.
  func inputEnded()

  /// True while the session has accepted requests it has not answered yet (the connection must
  /// not close before they are written, even after the peer half-closed).
  var hasOutstandingWork: Bool { get }

  /// True when nothing is under way: no request being received, none being answered.
  var isIdle: Bool { get }

  /// Once a second: protocol timeouts (a request head or body that takes too long).
  func sweep(now: UInt64)

  /// Graceful shutdown: finish what is in flight, accept nothing new, then close.
  func beginDraining()

  /// The connection closed: release whatever the session holds (body reservations, streams).
  func connectionClosed()

  /// Puts what the protocol has ready to send into the connection's output (HTTP/2 frames the
  /// library holds), before the connection writes.
  func fillOutput()

  /// Response bytes the session holds outside the connection's output (HTTP/2 bodies waiting
  /// for flow control): they count as unsent output for the budgets and the send timeout.
  var heldOutputBytes: Int { get }
}

/// Why a session stopped consuming input.
enum ProcessResult {
  /// Everything complete was taken; what is left (if anything) is part of a request still
  /// arriving: read the socket.
  case needsInput
  /// This pass's share is spent: come back in the next pass.
  case budgetSpent
  /// It cannot take more until something changes (requests in flight answered, output written,
  /// or it is closing): come back when the connection has room again.
  case blocked
}

/// How much one connection may do in one pass of its loop before the loop serves the others:
/// requests, output bytes and time, whichever runs out first (the first request always goes).
///
/// The time is counted from the second request on, so a connection that has one request per
/// pass (every keep-alive client that waits for its answer) never reads the clock; a pass is
/// then bounded by one request plus `time`.
struct PassBudget {
  var requestsLeft: Int
  /// The output size at which the connection has produced its share for this pass.
  let outputLimit: Int
  private let time: UInt64
  /// The monotonic time at which the connection's turn ends; set when the second request is taken.
  private var deadline: UInt64 = 0
  private var taken = 0

  init(requests: Int, outputBytes: Int, outputAlreadyPending: Int, time: UInt64) {
    requestsLeft = requests
    outputLimit = outputAlreadyPending &+ outputBytes
    self.time = time
  }

  /// True while another request may be taken, given the output the connection holds now.
  mutating func allowsAnother(outputPending: Int) -> Bool {
    guard requestsLeft > 0 && outputPending < outputLimit else { return false }
    taken += 1
    if taken == 1 { return true }
    let now = monotonicNanoseconds()
    if taken == 2 { deadline = now &+ time }
    return now < deadline
  }
}
