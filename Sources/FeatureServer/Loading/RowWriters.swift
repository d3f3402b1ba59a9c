import Foundation
import RedisPool
import Synchronization

/// Where the loader's validated rows go: each replaces its instance whole.
protocol RowWriter: AnyObject {
  func add(_ row: ValidRow) throws
  /// Sends what is left and waits for every reply; throws the first failure.
  func finish() throws
  /// Rows Redis has replaced so far.
  var written: Int { get }
}

/// One Redis: a blocking connection of the loader's own. Rows are encoded straight into one
/// buffer as `MULTI`, `DEL key`, `HSET key fields...` per row, `EXEC` (every `rowsPerTransaction`
/// rows), `batchSize` rows per write; up to `inFlight` batches are on the wire while the next
/// is parsed, and the replies of the oldest are read when the window is full. No command
/// objects, no callbacks: the loader's CPU per row is what limits a load.
final class DirectRowWriter: RowWriter {
  private let connection: RedisBlockingConnection
  private let batchSize: Int
  private let inFlight: Int
  private let rowsPerTransaction: Int
  private var buffer: [UInt8] = []
  /// The batch being filled: rows per transaction.
  private var transactions: [Int] = []
  private var rowsInTransaction = 0
  private var rowsInBatch = 0
  /// Sent batches whose replies are not read yet, oldest first: rows per transaction.
  private var sent: [[Int]] = []
  private(set) var written = 0

  init(configuration: RedisConfiguration, batchSize: Int, inFlight: Int, rowsPerTransaction: Int) throws {
    do {
      connection = try RedisBlockingConnection(configuration: configuration)
    } catch {
      throw LoaderError("cannot connect to \(configuration.redactedURL): \(error)")
    }
    connection.setTimeout(seconds: max(10, configuration.commandTimeout))
    self.batchSize = max(1, batchSize)
    self.inFlight = max(1, inFlight)
    self.rowsPerTransaction = max(1, rowsPerTransaction)
    buffer.reserveCapacity(min(self.batchSize, 1024) * 256)
  }

  func add(_ row: ValidRow) throws {
    if rowsInTransaction == 0 { buffer.append(contentsOf: Self.multi) }
    RedisCommand.encode(Self.del, key: row.key, tail: Self.none, into: &buffer)
    RedisCommand.encode(Self.hset, key: row.key, tail: row.fields, into: &buffer)
    rowsInTransaction += 1
    rowsInBatch += 1
    if rowsInTransaction == rowsPerTransaction { endTransaction() }
    if rowsInBatch >= batchSize { try send() }
  }

  func finish() throws {
    if rowsInBatch > 0 { try send() }
    while !sent.isEmpty { try readOldest() }
  }

  private func endTransaction() {
    guard rowsInTransaction > 0 else { return }
    buffer.append(contentsOf: Self.exec)
    transactions.append(rowsInTransaction)
    rowsInTransaction = 0
  }

  private func send() throws {
    endTransaction()
    while sent.count >= inFlight { try readOldest() }
    connection.append(encoded: buffer)
    do {
      try connection.flush()
    } catch {
      throw LoaderError("Redis failed after \(written) rows: \(error)")
    }
    sent.append(transactions)
    buffer.removeAll(keepingCapacity: true)
    transactions.removeAll(keepingCapacity: true)
    rowsInBatch = 0
  }

  /// Reads the replies of the oldest batch: per transaction `+OK`, `QUEUED` twice per row, then
  /// EXEC's array with the DEL and HSET results of each row.
  private func readOldest() throws {
    let batch = sent.removeFirst()
    do {
      for rows in batch {
        for _ in 0..<(1 + 2 * rows) {
          if let error = try connection.withReply({ Self.error(in: $0) }) { throw LoaderError(refused(error)) }
        }
        let applied = try connection.withReply { reply -> Result<Int, LoaderError> in
          if let error = Self.error(in: reply) { return .failure(LoaderError(refused(error))) }
          guard reply.kind == .array, reply.count == 2 * rows else {
            return .failure(LoaderError(refused("a transaction of \(rows) rows was not applied")))
          }
          for index in 0..<(2 * rows) {
            if let element = reply[index], let error = Self.error(in: element) {
              return .failure(LoaderError(refused(error)))
            }
          }
          return .success(rows)
        }
        written += try applied.get()
      }
    } catch let error as LoaderError {
      throw error
    } catch {
      throw LoaderError("Redis failed after \(written) rows: \(error)")
    }
  }

  private func refused(_ what: String) -> String {
    "Redis did not apply a row (it answered \(what)); loaded \(written) rows"
  }

  private static func error(in reply: RedisReplyView) -> String? {
    reply.kind == .error ? String(decoding: reply.bytes, as: UTF8.self) : nil
  }

  private static let multi = Array("*1\r\n$5\r\nMULTI\r\n".utf8)
  private static let exec = Array("*1\r\n$4\r\nEXEC\r\n".utf8)
  private static let del = Array("DEL".utf8)
  private static let hset = Array("HSET".utf8)
  private static let none = RedisCommand.EncodedArguments()
}

/// A cluster: each row is one script call on its key, sent in pipelined batches of `batchSize`
/// rows from loop 0 (the pool routes each to its slot's primary), up to `inFlight` batches at
/// once. The loader's thread blocks when the window is full (bounded memory).
final class PoolRowWriter: RowWriter, @unchecked Sendable {  // `state` is locked; the rest is the loader thread's
  private let pool: RedisPool
  private let batchSize: Int
  private let inFlight: Int
  private let window: DispatchSemaphore
  private var batch: [RedisCommand] = []
  private let state = Mutex<(written: Int, failure: String?)>((0, nil))

  init(pool: RedisPool, batchSize: Int, inFlight: Int) {
    self.pool = pool
    self.batchSize = max(1, batchSize)
    self.inFlight = max(1, inFlight)
    window = DispatchSemaphore(value: self.inFlight)
  }

  var written: Int { state.withLock { $0.written } }

  func add(_ row: ValidRow) throws {
    batch.append(RedisCommand("EVAL", head: [Loader.replaceRowScript, Self.one, row.key], tail: row.fields))
    if batch.count >= batchSize { try flush() }
  }

  private static let one = Array("1".utf8)

  func finish() throws {
    if !batch.isEmpty { try flush() }
    for _ in 0..<inFlight { window.wait() }
    for _ in 0..<inFlight { window.signal() }
    if let failure = state.withLock({ $0.failure }) { throw LoaderError(failure) }
  }

  private func flush() throws {
    window.wait()
    if let failure = state.withLock({ $0.failure }) {
      window.signal()
      throw LoaderError(failure)
    }
    let commands = batch
    batch.removeAll(keepingCapacity: true)
    let loop = pool.group.loops[0]
    let pool = self.pool
    loop.execute { [self] in
      pool.on(loop).send(batch: commands) { results in
        self.state.withLock { state in
          for result in results {
            switch result {
            case .success(.integer): state.written += 1
            case .success(let other):
              if state.failure == nil {
                state.failure = "Redis did not apply a row (it answered \(other)); loaded \(state.written) rows"
              }
            case .failure(let error):
              if state.failure == nil { state.failure = "Redis failed after \(state.written) rows: \(error)" }
            }
          }
        }
        self.window.signal()
      }
    }
  }
}
