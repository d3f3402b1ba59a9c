// libFuzzer target for what the feature server decodes from outside data: the request bodies of
// POST /predict and POST /features, and a stored row (any field names, values and `_ts` bytes);
// for Feast, the body of POST /get-online-features with its entity values, a write's `df`, a
// stored `feast.types.Value` and a stored or written timestamp; a Redis Cluster redirect reply and
// a command's key slot; for streaming windows, an event (JSON, or a stream entry's fields), a
// stored event and a POST /events body. The first input byte picks the decoder (0xF0 and above:
// the Feast ones; 0xE0-0xEF: the cluster ones; 0xD0-0xDF: the streaming ones); the rest is its input.
// Build and run (see .ci/fuzz.sh):
//   swift build --scratch-path .build-fuzz --product feature-decoders-fuzz \
//     -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld -Xswiftc -DFUZZING
//   .build-fuzz/debug/feature-decoders-fuzz -max_total_time=60 Tests/fuzz-corpus/decoders
// Without -DFUZZING it is a stub that says how to build it (the decoders are internal, reached
// through a testable import, which release builds do not allow).
#if canImport(Glibc)
  import Glibc
#endif

#if FUZZING
  @_spi(Benchmarks) @testable import FeatureServer
  import RedisPool

  let registry = try! RegistryLoader.load(path: RegistryLoader.bundledPath)
  let customer = registry.entity(named: "customer")!

  @_cdecl("LLVMFuzzerTestOneInput")
  public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size > 0 else { return 0 }
    let body = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    if data[0] >= 0xF0 {
      fuzzFeast(data[0] - 0xF0, body)
      return 0
    }
    if data[0] >= 0xE0 {
      fuzzCluster(body)
      return 0
    }
    if data[0] >= 0xD0 {
      fuzzStream(data[0] - 0xD0, body)
      return 0
    }
    switch data[0] % 3 {
    case 0:
      // Never traps; a request that parses has every field within its rules.
      if let request = try? PredictRequest(body: body, now: 1_795_000_000) {
        precondition(EventTime.validRange.contains(request.timestamp) || request.timestamp == 1_795_000_000)
        precondition(request.amount.isFinite && request.amount >= 0)
        var values: [Double] = []
        OnDemandFeature.compute(request, customerMean: 50, customerStd: 10, storedCategory: nil, into: &values)
        precondition(values[OnDemandFeature.positions[.isOddHour]!] == 0 || values[4] == 1)
      }
    case 1:
      if let batch = try? BatchRequest(parsing: body, maxItems: 100) {
        precondition(batch.items.count <= 100)
        for item in batch.items { _ = customer.idRule.canonical(item.id) }
      }
    default:
      // A stored hash: field and value separated by 0xFF, pairs by 0xFE.
      var reply: [RedisValue] = []
      for pair in body.split(separator: 0xFE, omittingEmptySubsequences: false) {
        let parts = pair.split(separator: 0xFF, maxSplits: 1, omittingEmptySubsequences: false)
        reply.append(.bulk(Array(parts[0])))
        reply.append(.bulk(parts.count > 1 ? Array(parts[1]) : []))
      }
      if let row = FeatureRow(hash: reply, entity: customer) {
        precondition(row.values.count == customer.features.count)
        if let time = row.eventTimestamp { precondition(EventTime.validRange.contains(time)) }
        _ = EventTime.age(of: row.eventTimestamp ?? 0, now: Int64.max)
        _ = EventTime.age(of: row.eventTimestamp ?? 0, now: Int64.min)
        precondition(row.approximateBytes > 0)
      }
    }
    return 0
  }

  /// Streaming windows: whatever an event, a stored event or a POST /events body holds, the
  /// engine never traps and serves one value per window feature.
  func fuzzStream(_ selector: UInt8, _ body: [UInt8]) {
    let windows = customer.windows!
    switch selector % 3 {
    case 0:
      if case .success(let event) = windows.schema.parse(body) {
        precondition(event.value.isFinite && StoredWindowEvents.validTimes.contains(event.time))
        for (_, window) in windows.windows {
          for start in window.starts(containing: event.time) {
            precondition(start <= event.time && event.time < start + window.size)
          }
        }
        _ = windows.counts(time: event.time, watermark: event.time &- windows.delay)
        var replay = WindowReplay(window: windows.windows[0].window, delay: windows.delay)
        _ = replay.add(event)
        _ = replay.add(event)
        precondition(replay.openWindows().allSatisfy { $0.aggregates.count == 2 })
      }
    case 1:
      // Stored event values, separated by 0xFF, served at a fixed time.
      var events = StoredWindowEvents()
      for value in body.split(separator: 0xFF) {
        value.withUnsafeBytes { bytes in
          if let event = StoredWindowEvents.decode(bytes) { events.append(.init(event)) }
        }
      }
      precondition(windows.values(of: events, now: 1_795_000_000_000_000).count == windows.features.count)
    default:
      if case .success(let objects) = EventsBody.objects(body, limit: 50) { precondition(objects.count <= 50) }
    }
  }

  /// An error reply read as a redirect, and a command (arguments split at 0xFF) routed by its key.
  func fuzzCluster(_ body: [UInt8]) {
    switch ClusterRedirect(errorText: body) {
    case .moved(let slot, let address)?, .ask(let slot, let address)?:
      precondition(Int(slot) < ClusterSlot.count && !address.isEmpty)
    default: break
    }
    let arguments = body.split(separator: 0xFF, omittingEmptySubsequences: false).map(Array.init)
    guard let first = arguments.first, !first.isEmpty else { return }
    let command = RedisCommand(arguments: arguments)
    if let slot = command.slot { precondition(Int(slot) < ClusterSlot.count) }
    _ = command.isReadOnly
  }

  func fuzzFeast(_ selector: UInt8, _ body: [UInt8]) {
    switch selector % 4 {
    case 0:
      // A get-online-features body: parsed within its limits, every entity value converted (or
      // refused) for every key type.
      var limits = FeastConfiguration()
      limits.maxFeatures = 50
      limits.maxEntityRows = 50
      body.withUnsafeBufferPointer { bytes in
        guard let request = try? FeastOnlineRequest.parse(bytes, limits: limits) else { return }
        if let range = request.featuresRange,
          let references = try? FeastOnlineRequest.references(bytes, range: range, limits: limits)
        {
          precondition(references.count <= 50)
        }
        for (_, values) in request.entities {
          precondition(values.count <= 50)
          for value in values {
            for type in [FeastValueType.int64, .int32, .string, .bytes, .invalid] {
              _ = try? FeastEntityKey.convert(value, to: type, location: [])
            }
          }
        }
      }
    case 1:
      // Any JSON (a write's df): values encoded as Feast Values for every type, or refused.
      guard let value = try? body.withUnsafeBufferPointer({ try JSONValue.parse($0, allowNonFinite: true) }) else {
        return
      }
      if case .array(let items) = value {
        for item in items.prefix(8) {
          for type in [
            FeastValueType.int64, .int32, .double, .float, .bool, .string, .bytes, .unixTimestamp, .int64List,
          ] {
            _ = try? FeastValueEncoder.encode(item, as: type)
          }
        }
      }
    case 2:
      // A stored Value: whatever it renders is valid JSON.
      var output: [UInt8] = []
      body.withUnsafeBytes { _ = FeastValueJSON.append($0, to: &output) }
      precondition((try? output.withUnsafeBufferPointer { try JSONValue.parse($0) }) != nil)
    default:
      // A stored Timestamp, and a written ISO 8601 time: in Python's range when accepted.
      if let (seconds, nanos) = body.withUnsafeBytes({ FeastTimestamp.decode($0) }) {
        precondition(FeastTimestamp.secondsRange.contains(seconds) && (0..<1_000_000_000).contains(nanos))
        _ = FeastTimestamp.renderJSON(seconds: seconds, nanos: nanos)
      }
      if let (seconds, _) = FeastTimestamp.parseISO8601(String(decoding: body, as: UTF8.self)) {
        precondition(FeastTimestamp.secondsRange.contains(seconds))
      }
    }
  }

  @_silgen_name("LLVMFuzzerRunDriver")
  func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
  ) -> CInt

  var argc = CommandLine.argc
  var argv = CommandLine.unsafeArgv
  exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzOne))
#else
  let message = "feature-decoders-fuzz was built without -DFUZZING; build it as .ci/fuzz.sh does\n"
  _ = message.withCString { write(2, $0, strlen($0)) }
  exit(2)
#endif
