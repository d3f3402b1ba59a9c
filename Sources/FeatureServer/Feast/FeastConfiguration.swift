import Reactor

/// Settings of the Feast API. Each has a flag (and an environment variable).
public struct FeastConfiguration: Sendable {
  /// The Feast feature repository to serve (its `feature_store.yaml`); nil: no Feast API.
  public var repository: String? = nil
  /// Statuses as Feast's Go server answers them: values older than their view's ttl are
  /// `OUTSIDE_MAX_AGE` (and still served), null or absent values `NOT_FOUND`. Off: what Feast's
  /// Python server answers (every value `PRESENT`, null when absent).
  public var enforceTTL = false
  /// Entity rows one `/get-online-features` request may ask for (each is one Redis read per view).
  public var maxEntityRows = 1_000
  /// Features (and entity columns) one request may name.
  public var maxFeatures = 1_000
  /// Rows one request may read: entity rows x the feature views it names (each one HMGET). It
  /// bounds what one request can make the server and Redis do, whatever the two limits above allow.
  public var maxRowReads = 10_000
  /// Seconds between looks at the registry file; when it changed (`feast apply`), the repository
  /// is read again and served. 0: read once, at start.
  public var registryRefreshSeconds = 10.0
  /// Rows one write (`/write-to-online-store`, `/push`) may carry.
  public var maxWriteRows = 100_000
  /// Writes sent to Redis at once; the rest of a large write waits for their replies.
  public var writeBatch = 500

  public init() {}

  public func validate() throws {
    try ConfigurationError.check("feast-max-entity-rows", maxEntityRows, in: 1...1_000_000)
    try ConfigurationError.check("feast-max-features", maxFeatures, in: 1...100_000)
    try ConfigurationError.check("feast-max-row-reads", maxRowReads, in: 1...10_000_000)
    try ConfigurationError.check("feast-max-write-rows", maxWriteRows, in: 1...10_000_000)
    try ConfigurationError.check("feast-write-batch", writeBatch, in: 1...100_000)
    try ConfigurationError.checkSeconds("feast-registry-refresh", registryRefreshSeconds, positive: false)
  }
}
