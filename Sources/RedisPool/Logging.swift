import Logging

/// RedisPool's logger: connection losses and recoveries, one line per change of state.
let redisLogger = Logger(label: "featureserver.redis")
