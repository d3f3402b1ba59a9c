// libFuzzer target for HTTPCore's request parsing: the head parser, the chunked decoder and the
// response parser, each fed the same bytes whole and split at a point the input chooses.
// Build and run (see .ci/fuzz.sh):
//   swift build --scratch-path .build-fuzz -c debug --product http-parser-fuzz \
//     -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld -Xswiftc -DFUZZING
//   .build-fuzz/debug/http-parser-fuzz -max_total_time=60
// Without -DFUZZING (a plain `swift build`, which builds every product) it is a stub that says
// how to build it: the parsers are internal, reached through a testable import, which release
// builds do not allow.
#if canImport(Glibc)
  import Glibc
#endif

#if FUZZING
  @testable import HTTPCore

  @_cdecl("LLVMFuzzerTestOneInput")
  public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size > 0 else { return 0 }
    let input = UnsafeRawBufferPointer(start: data, count: size)
    var limits = HTTPLimits()
    limits.maxRequestLineBytes = 512
    limits.maxHeaderBytes = 1024
    limits.maxHeaderCount = 16
    limits.maxBodyBytes = 4096

    // Whole, then as a prefix: a prefix must never be "complete" with a longer head than itself.
    switch RequestHeadParser.parse(input, limits: limits) {
    case .complete(let head):
      precondition(head.length <= size, "head longer than its input")
      precondition(head.fields.count <= limits.maxHeaderCount)
      for field in head.fields {
        for range in [field.name, field.value] { precondition(range.start <= range.end && range.end <= size) }
      }
      let body = UnsafeRawBufferPointer(rebasing: input[head.length...])
      if case .chunked = head.framing { decodeChunked(body, limits: limits) }
    case .incomplete, .failure:
      break
    }
    let split = Int(data[0]) % size
    _ = RequestHeadParser.parse(UnsafeRawBufferPointer(rebasing: input[..<split]), limits: limits)

    decodeChunked(input, limits: limits)
    var parser = ResponseParser(limits: limits)
    var offset = 0
    while offset < size {
      let rest = UnsafeRawBufferPointer(rebasing: input[offset...])
      switch parser.parse(rest, isHead: false) {
      case .response(_, let consumed):
        precondition(consumed > 0 && consumed <= rest.count)
        offset += consumed
      case .needMore(let consumed):
        precondition(consumed <= rest.count)
        offset = size
      case .failure:
        offset = size
      }
    }
    return 0
  }

  func decodeChunked(_ bytes: UnsafeRawBufferPointer, limits: HTTPLimits) {
    var decoder = ChunkedDecoder(limits: limits)
    var body: [UInt8] = []
    if case .done(let consumed) = decoder.decode(bytes, into: &body) {
      precondition(consumed <= bytes.count)
    }
    precondition(body.count <= limits.maxBodyBytes)
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
  let message = "http-parser-fuzz was built without -DFUZZING; build it as .ci/fuzz.sh does\n"
  _ = message.withCString { write(2, $0, strlen($0)) }
  exit(2)
#endif
