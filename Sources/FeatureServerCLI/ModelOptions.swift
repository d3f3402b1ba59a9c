import ArgumentParser
import FeatureServer

/// The fraud model behind `POST /predict`.
struct ModelOptions: ParsableArguments {
  @Option(help: "XGBoost JSON model for POST /predict; 'none' serves features only. Default: the bundled fraud model.")
  var model: String?

  @Option(help: "Fraud probability at or above which /predict answers is_fraud: true.")
  var fraudThreshold = 0.7

  @Option(
    help: ArgumentHelp(
      "Enables POST /admin/reload-model, which demands Authorization: Bearer <token>. Without it the endpoint does not exist (404); SIGHUP reloads either way.",
      valueName: "token"))
  var adminToken: String?

  @Option(
    help:
      "Seconds of /predict inputs the drift gauges (/metrics, GET /drift) compare with the model's reference distribution; 0 turns drift off."
  )
  var driftWindow = 600.0

  func validate() throws {
    guard driftWindow >= 0 else { throw ValidationError("--drift-window must be 0 or more") }
    guard fraudThreshold >= 0 && fraudThreshold <= 1 else {
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
