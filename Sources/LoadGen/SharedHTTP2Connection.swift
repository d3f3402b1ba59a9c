import HTTPCore
import Reactor

/// One HTTP/2 connection that several users of a loop share, each request a stream of its own:
/// `--http2` runs N connections × M concurrent streams instead of one connection per user.
/// Connected on first use; users that ask while it connects wait for it.
final class SharedHTTP2Connection {
  private(set) var connection: HTTP2ClientConnection?
  private var waiters: [(HTTP2ClientConnection?, HTTPClientError?) -> Void] = []
  private var connecting = false

  /// Hands over the open connection, connecting (or reconnecting) first when needed.
  func withConnection(
    state: LoopState, _ body: @escaping (HTTP2ClientConnection?, HTTPClientError?) -> Void
  ) {
    if let connection, connection.isOpen { return body(connection, nil) }
    waiters.append(body)
    guard !connecting else { return }
    connecting = true
    connection = nil
    let options = state.options
    HTTP2ClientConnection.connect(loop: state.loop, host: options.address, port: options.port, timeout: 5) {
      [self] result in
      connecting = false
      let waiting = waiters
      waiters.removeAll()
      switch result {
      case .success(let connected):
        connection = connected
        for waiter in waiting { waiter(connected, nil) }
      case .failure(let error):
        for waiter in waiting { waiter(nil, error) }
      }
    }
  }

  func close() {
    connection?.close()
    connection = nil
  }
}
