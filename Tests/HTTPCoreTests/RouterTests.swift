import XCTest

@testable import HTTPCore

final class RouterTests: XCTestCase {
  func makeRouter() -> Router {
    let router = Router()
    let noop: HTTPHandler = { _, _ in }
    router.get("/health", noop)
    router.get("/features/:entity/:id", noop)
    router.post("/features", noop)
    router.get("/features/customer/special", noop)
    router.get("/static/*path", noop)
    return router
  }

  func pattern(_ match: Router.Match) -> String? {
    if case .found(_, let pattern, _) = match { return pattern }
    return nil
  }

  func testLiteralsWinOverParameters() {
    let router = makeRouter()
    XCTAssertEqual(pattern(router.match(.get, target: "/features/customer/special")), "/features/customer/special")
    XCTAssertEqual(pattern(router.match(.get, target: "/features/customer/42")), "/features/:entity/:id")
  }

  func testParametersArePercentDecodedAfterSplitting() throws {
    let router = makeRouter()
    guard case .found(_, _, let parameters) = router.match(.get, target: "/features/cust%6Fmer/a%2Fb?x=1") else {
      return XCTFail("no match")
    }
    XCTAssertEqual(parameters["entity"], "customer")
    XCTAssertEqual(parameters["id"], "a/b")
  }

  func testMalformedPercentEncodingIsABadPath() {
    guard case .badPath = makeRouter().match(.get, target: "/features/customer/%zz") else {
      return XCTFail("expected badPath")
    }
  }

  func testUnknownPathIsNotFound() {
    guard case .notFound = makeRouter().match(.get, target: "/nope") else { return XCTFail("expected notFound") }
    guard case .notFound = makeRouter().match(.get, target: "/features/customer") else {
      return XCTFail("expected notFound for a missing parameter")
    }
  }

  func testWrongMethodListsAllowedMethods() {
    guard case .methodNotAllowed(let allowed) = makeRouter().match(.delete, target: "/health") else {
      return XCTFail("expected methodNotAllowed")
    }
    XCTAssertEqual(allowed, [.get, .head])
  }

  func testHeadFallsBackToGet() {
    XCTAssertEqual(pattern(makeRouter().match(.head, target: "/health")), "/health")
  }

  func testTrailingAndDoubleSlashesAreIgnored() {
    XCTAssertEqual(pattern(makeRouter().match(.get, target: "/health/")), "/health")
    XCTAssertEqual(pattern(makeRouter().match(.get, target: "//features//customer/1")), "/features/:entity/:id")
  }

  func testWildcardTakesTheRest() {
    guard case .found(_, _, let parameters) = makeRouter().match(.get, target: "/static/css/site.css") else {
      return XCTFail("no match")
    }
    XCTAssertEqual(parameters["path"], "css/site.css")
  }

  /// Parameters beyond the two held inline, a parameter branch that fails and backtracks to a
  /// wildcard, a wildcard matched at the very end, and a path of thousands of empty segments.
  func testManyParametersBacktrackingAndWildcardsAtTheEnd() {
    let router = Router()
    let noop: HTTPHandler = { _, _ in }
    router.get("/a/:one/:two/:three/:four", noop)
    router.get("/b/:x/end", noop)
    router.get("/b/*rest", noop)
    router.get("/c/*rest", noop)
    guard case .found(_, _, let four) = router.match(.get, target: "/a/1/2/3/4") else { return XCTFail("four") }
    XCTAssertEqual([four["one"], four["two"], four["three"], four["four"]], ["1", "2", "3", "4"])
    XCTAssertEqual(four.count, 4)
    guard case .found(_, let matched, let rest) = router.match(.get, target: "/b/x/not-end/") else {
      return XCTFail("backtrack")
    }
    XCTAssertEqual(matched, "/b/*rest")
    XCTAssertEqual(rest["rest"], "x/not-end")
    XCTAssertNil(rest["x"], "the failed branch's capture is dropped")
    guard case .found(_, _, let empty) = router.match(.get, target: "/c") else { return XCTFail("end wildcard") }
    XCTAssertEqual(empty["rest"], "")
    let slashes = String(repeating: "/", count: 4000)
    XCTAssertEqual(pattern(router.match(.get, target: slashes + "c" + slashes + "x")), "/c/*rest")
  }

  func testAbsoluteFormTargetIsRouted() {
    XCTAssertEqual(pattern(makeRouter().match(.get, target: "http://example.com/health")), "/health")
    guard case .badPath = makeRouter().match(.get, target: "*") else { return XCTFail("expected badPath") }
  }

  func testQueryItemsDecodePlusAndPercent() {
    let request = HTTPRequest(method: .get, target: "/q?features=a,b&name=x+y%21&bad=%zz&empty")
    XCTAssertEqual(request.queryItem("features"), "a,b")
    XCTAssertEqual(request.queryItem("name"), "x y!")
    XCTAssertNil(request.queryItem("bad"))
    XCTAssertEqual(request.queryItem("empty"), "")
    XCTAssertEqual(request.path, "/q")
  }
}
