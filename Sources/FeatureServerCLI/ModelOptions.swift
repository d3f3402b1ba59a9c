import ArgumentParser
import FeatureServer
import Reactor

/// The fraud model behind `POST /predict`.
struct ModelOptions: ParsableArguments {
  @Option(help: "XGBoost JSON model for POST /predict; 'none' serves features only. Default: the bundled fraud model.")
  var model: String?

  @Option(help: "Fraud probability at or above which /predict answers is_fraud: true.")
  var fraudThreshold = FeatureServiceConfiguration().fraudThreshold

  @Option(
    help: ArgumentHelp(
      "Enables POST /admin/reload-model, which demands Authorization: Bearer <token>. Without it the endpoint does not exist (404); SIGHUP reloads either way.",
      valueName: "token"))
  var adminToken: String?

  @Option(
    help:
      "Seconds of /predict inputs the drift gauges (/metrics, GET /drift) compare with the model's reference distribution; 0 turns drift off."
  )
  var driftWindow = DriftSettings(loops: 1).window

  @Option(help: "Most nodes (all trees together) a model file may have; a larger one is refused.")
  var modelMaxNodes = ModelLimits().maxNodes

  @Option(help: "Deepest tree a model file may have; a deeper one is refused.")
  var modelMaxDepth = ModelLimits().maxDepth

  @Option(help: "Most trees a model file may have; more are refused.")
  var modelMaxTrees = ModelLimits().maxTrees

  var limits: ModelLimits {
    var limits = ModelLimits()
    limits.maxNodes = modelMaxNodes
    limits.maxDepth = modelMaxDepth
    limits.maxTrees = modelMaxTrees
    return limits
  }

  func validate() throws {
    do {
      try ConfigurationError.checkSeconds("drift-window", driftWindow, positive: false, maximum: 30 * 86400)
      try limits.validate()
    } catch let error as ConfigurationError {
      throw ValidationError("--\(error)")
    }
    guard fraudThreshold.isFinite && fraudThreshold >= 0 && fraudThreshold <= 1 else {
      throw ValidationError("--fraud-threshold must be between 0 and 1")
    }
    if let adminToken, adminToken.utf8.count < 16 {
      throw ValidationError("--admin-token must be at least 16 characters")
    }
  }

  /// The model path to serve, or nil for none.
  var path: String? {
    guard let model else { return LoadedModel.bundledPath }
    return model == "none" || model.isEmpty ? nil : model
  }

  func apply(to configuration: inout FeatureServiceConfiguration) {
    configuration.fraudThreshold = fraudThreshold
    configuration.adminToken = adminToken
  }
}
