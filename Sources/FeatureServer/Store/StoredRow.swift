import RedisPool

/// A row as the cache keeps it, in the layout it was read from.
@_spi(Benchmarks) public enum StoredRow: Sendable {
  /// `fs:<entity>:<id>` hashes of text values (our own layout).
  case native(FeatureRow)
  /// One feature view's fields of a Feast entity-key hash.
  case feast(FeastRow)
  /// An entity's recent events, from which its window features are computed at read time.
  case windowEvents(StoredWindowEvents)

  /// An estimate of the memory the row holds, for the cache's byte bound.
  var approximateBytes: Int {
    switch self {
    case .native(let row): row.approximateBytes
    case .feast(let row): row.approximateBytes
    case .windowEvents(let events): events.approximateBytes
    }
  }
}

/// What a reply to a row's read command held.
enum RowDecoding {
  case row(StoredRow, decodeErrors: Int)
  /// The instance does not exist.
  case missing
  /// Redis holds something at the key that is not a row of this layout (a key of another type):
  /// bad stored data. `detail` goes to the log only.
  case invalid(detail: String)
}

/// One kind of row the reader fetches: a native entity, or a Feast feature view. It knows the
/// command that reads a row and how that command's reply becomes one: the store layout seam.
/// Built once at start, shared by every loop (immutable).
protocol RowSource: AnyObject, Sendable {
  /// Names the rows in logs and metrics: the entity, or the feature view.
  var name: String { get }
  /// The label position of these rows in `featureserver_stored_row_errors_total`, where the
  /// native entities come first and Feast's feature views after them.
  func errorLabel(nativeEntityCount: Int) -> Int
  /// The command that reads the row at `key` (built only on a cache miss).
  func readCommand(_ key: RowKey) -> RedisCommand
  /// The row in a reply to that command; runs inside the reply callback (nothing of the reply
  /// may be kept).
  func decode(_ reply: RedisReplyView) -> RowDecoding
  /// A mark taken when a fetch starts, handed to `cacheLifetime(since:)` when it ends.
  var fetchTicket: Int { get }
  /// How long a row a fetch read stays fresh in the cache, ns (nil: the cache's TTL; 0: not
  /// kept). Asked under the cache shard's lock, as the row is stored.
  func cacheLifetime(since ticket: Int) -> UInt64?
  /// Whether a hit near expiry re-reads the row in the background.
  var refreshesAhead: Bool { get }
  /// Whether its cache lookups count in `featureserver_cache_requests_total`.
  var countsInCacheMetrics: Bool { get }
}

extension RowSource {
  var fetchTicket: Int { 0 }
  func cacheLifetime(since ticket: Int) -> UInt64? { nil }
  var refreshesAhead: Bool { true }
  var countsInCacheMetrics: Bool { true }
}
