import Logging

/// The reactor's logger: rare events only (a failed system call on the loop, a loop that stops).
let reactorLogger = Logger(label: "featureserver.reactor")
