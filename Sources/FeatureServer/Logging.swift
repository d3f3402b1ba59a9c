import Logging

/// The feature routes' logger: rare events only (bad stored data, rate-limited), never one line
/// per request.
let featureLogger = Logger(label: "featureserver.features")
let streamLogger = Logger(label: "featureserver.stream")
