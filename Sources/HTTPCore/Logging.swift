import Logging

/// HTTPCore's logger. Rare events only (a handler bug, a shutdown signal, a failed listener):
/// nothing is logged per request. The executable chooses the handler and level by bootstrapping
/// swift-log; without it, swift-log writes to standard error.
let httpLogger = Logger(label: "featureserver.http")
