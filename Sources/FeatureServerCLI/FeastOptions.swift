import ArgumentParser
import FeatureServer
import Reactor

/// `featureserver serve --feast-repo DIR ...`: Feast's API over a Feast repository's Redis store.
struct FeastOptions: ParsableArguments {
  private static let defaults = FeastConfiguration()

  @Option(
    help: ArgumentHelp(
      "A Feast feature repository (the directory of its feature_store.yaml) to serve through Feast's API.",
      discussion:
        "Its online store must be Redis; without --redis-url the server connects to the store's connection_string."))
  var feastRepo: String?

  @Flag(
    help:
      "Statuses as Feast's Go server answers them (OUTSIDE_MAX_AGE past a view's ttl; NOT_FOUND for null or absent values) instead of what Feast's Python server answers (PRESENT)."
  )
  var feastEnforceTTL = defaults.enforceTTL

  @Option(help: "Entity rows one /get-online-features request may ask for; more gets 413.")
  var feastMaxEntityRows = defaults.maxEntityRows

  @Option(help: "Features (and entity columns) one /get-online-features request may name; more gets 413.")
  var feastMaxFeatures = defaults.maxFeatures

  @Option(
    help:
      "Seconds between looks at the registry file: when `feast apply` changed it, the repository is read again and served (0: read once, at start)."
  )
  var feastRegistryRefresh = defaults.registryRefreshSeconds

  @Option(help: "Rows one /get-online-features request may read (entity rows x feature views); more gets 413.")
  var feastMaxRowReads = defaults.maxRowReads

  @Option(help: "Rows one /write-to-online-store or /push request may carry; more gets 413.")
  var feastMaxWriteRows = defaults.maxWriteRows

  @Option(help: "Rows of a write sent to Redis at once; the rest waits for their replies.")
  var feastWriteBatch = defaults.writeBatch

  var configuration: FeastConfiguration {
    var configuration = FeastConfiguration()
    configuration.repository = feastRepo
    configuration.enforceTTL = feastEnforceTTL
    configuration.maxEntityRows = feastMaxEntityRows
    configuration.maxFeatures = feastMaxFeatures
    configuration.maxRowReads = feastMaxRowReads
    configuration.registryRefreshSeconds = feastRegistryRefresh
    configuration.maxWriteRows = feastMaxWriteRows
    configuration.writeBatch = feastWriteBatch
    return configuration
  }

  func validate() throws {
    do {
      try configuration.validate()
    } catch let error as ConfigurationError {
      throw ValidationError("--\(error)")
    }
  }

  /// The repository, read and checked; nil without --feast-repo.
  func loadRepository() throws -> FeastRepository? {
    guard let feastRepo else { return nil }
    do {
      return try FeastRepository.load(directory: feastRepo)
    } catch let error as FeastRepositoryError {
      throw ValidationError("--feast-repo: \(error)")
    }
  }
}
