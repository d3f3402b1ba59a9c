// libFuzzer target for what the feature server decodes from outside data: the request bodies of
// POST /predict and POST /features, and a stored row (any field names, values and `_ts` bytes).
// The first input byte picks the decoder; the rest is its input.
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
