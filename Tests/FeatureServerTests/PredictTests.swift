import Foundation
import TestSupport
import XCTest

@testable import FeatureServer

/// `POST /predict` against a real redis-server holding the bundled FinServe data.
final class PredictTests: XCTestCase {
  static let modelPath = packageRoot.appendingPathComponent("models/fraud_xgb.json").path

  /// Transactions covering every on-demand branch: odd hours, high-risk categories from the
  /// request and from Redis, omitted optional fields, missing entities, RFC 3339 times.
  static let transactions: [String] = [
    #"{"transaction_id":"a","customer_id":1,"account_id":1,"merchant_id":2,"amount":900.5,"timestamp":1793502000,"device_known":false,"location_match":false,"transactions_last_hour":9}"#,
    #"{"transaction_id":"b","customer_id":"17","account_id":"40","merchant_id":"5","amount":12,"timestamp":"2026-11-20T14:05:00Z","merchant_category":"grocery","device_known":true,"location_match":true,"transactions_last_hour":0}"#,
    #"{"transaction_id":"c","customer_id":4999,"account_id":6000,"merchant_id":800,"amount":0,"timestamp":"2026-11-20T04:59:59.250+02:00"}"#,
    #"{"transaction_id":"d","customer_id":123456,"account_id":3,"merchant_id":9999,"amount":55.25,"timestamp":1793491200,"merchant_category":"crypto"}"#,
    #"{"transaction_id":"e","customer_id":2,"account_id":99999,"merchant_id":7,"amount":1e4,"timestamp":1793480000,"transactions_last_hour":2}"#,
  ]

  private func withHarness(
    configure: (inout FeatureServiceConfiguration) -> Void = { _ in }, modelPath: String = PredictTests.modelPath,
    _ body: (FeatureServerHarness) throws -> Void
  ) throws {
    let harness = try FeatureServerHarness(modelPath: modelPath, configure: configure)
    defer { harness.stop() }
    try harness.loadBundledData()
    try body(harness)
  }

  /// The server's model input vector equals training/features.py's (run by python3) for the
  /// same transactions and stored rows, and its probability is the model's on that vector.
  func testInputsMatchTheTrainingDefinitionsAndTheProbabilityTheModel() throws {
    guard let python = which("python3") else { throw XCTSkip("python3 not installed") }
    let model = try XGBoostModel(contentsOf: Self.modelPath)
    let expected = try Self.pythonVectors(python: python)
    try withHarness { harness in
      for (index, transaction) in Self.transactions.enumerated() {
        let reply = try harness.post("/predict?explain=true", transaction)
        XCTAssertEqual(reply.status, 200, reply.body)
        let json = reply.json
        let features = try XCTUnwrap(json["features"] as? [String: Any], reply.body)
        XCTAssertEqual(features.count, model.featureNames.count)
        var vector: [Double] = []
        for (position, name) in model.featureNames.enumerated() {
          let served = (features[name] as? NSNumber).map { Float($0.doubleValue) } ?? .nan
          let wanted = expected[index][position].map { Float($0) } ?? .nan
          XCTAssertTrue(
            served == wanted || (served.isNaN && wanted.isNaN),
            "transaction \(index) input \(name): server \(served), training definition \(wanted)")
          vector.append(Double(served))
        }
        let probability = try XCTUnwrap(json["fraud_probability"] as? NSNumber).doubleValue
        XCTAssertEqual(Float(probability), model.predict(vector), "transaction \(index)")
        XCTAssertEqual(json["is_fraud"] as? Bool, probability >= 0.7)
        XCTAssertEqual(
          try XCTUnwrap(json["confidence"] as? NSNumber).doubleValue, abs(probability - 0.5) * 2, accuracy: 1e-6)
        XCTAssertEqual(json["model_version"] as? String, model.attributes["model_version"])
        let latency = try XCTUnwrap(json["latency_ms"] as? [String: Double])
        XCTAssertEqual(Set(latency.keys), ["feature_retrieval", "inference", "total"])
        XCTAssertLessThanOrEqual(latency["feature_retrieval"]! + latency["inference"]!, latency["total"]! + 0.002)
        let missing = try XCTUnwrap(json["missing_features"] as? [String])
        XCTAssertEqual(
          missing, model.featureNames.enumerated().filter { expected[index][$0.offset] == nil }.map(\.element))
      }
      // a: every factor present, clearly fraud; b: a clean grocery purchase.
      let fraud = try harness.post("/predict", Self.transactions[0]).json
      XCTAssertEqual(fraud["is_fraud"] as? Bool, true)
      XCTAssertEqual(fraud["degraded"] as? Bool, false)
      XCTAssertNil(fraud["features"], "features only with ?explain=true")
      let clean = try harness.post("/predict", Self.transactions[1]).json
      XCTAssertEqual(clean["is_fraud"] as? Bool, false)
      XCTAssertEqual(clean["missing_features"] as? [String], [])
      // c omits optional fields only: not degraded. d and e miss stored entities: degraded.
      XCTAssertEqual(try harness.post("/predict", Self.transactions[2]).json["degraded"] as? Bool, false)
      XCTAssertEqual(try harness.post("/predict", Self.transactions[3]).json["degraded"] as? Bool, true)
      XCTAssertEqual(try harness.post("/predict", Self.transactions[4]).json["degraded"] as? Bool, true)
      let metrics = try harness.get("/metrics").body
      XCTAssertTrue(metrics.contains(#"featureserver_predictions_total{outcome="degraded"} 4"#), metrics)
      // Every prediction's inputs went into the drift window.
      let drift = try harness.get("/drift")
      XCTAssertEqual(drift.status, 200)
      XCTAssertEqual(drift.json["samples"] as? Int, 2 * Self.transactions.count)
      let driftFeatures = drift.json["features"] as? [[String: Any]] ?? []
      XCTAssertEqual(driftFeatures.map { $0["name"] as? String ?? "" }, model.featureNames)
      XCTAssertTrue(metrics.contains(#"featureserver_feature_drift_psi{feature="amount"} "#), metrics)
      XCTAssertTrue(metrics.contains("featureserver_feature_drift_share "))
      XCTAssertTrue(metrics.contains(#"featureserver_model_info{version="fraud_xgb-"#))
    }
  }

  /// Every invalid body is a 400 whose message names the field and the problem.
  func testWindowFeaturesAreReadOnlyForAModelThatUsesThem() throws {
    let transaction = #"{"transaction_id":"w","customer_id":1,"account_id":1,"merchant_id":2,"amount":10}"#
    // The bundled model has no window inputs: a prediction reads no events.
    try withHarness { harness in
      let reads = try harness.commandCalls("hvals")
      XCTAssertEqual(try harness.post("/predict", transaction).status, 200)
      XCTAssertEqual(try harness.commandCalls("hvals"), reads)
    }
    // A model with one: its value is the live window's.
    let fixture = packageRoot.appendingPathComponent(
      "Tests/FeatureServerTests/Fixtures/models/xgb3_binary_logistic.json")
    var model = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: fixture)) as? [String: Any])
    var learner = try XCTUnwrap(model["learner"] as? [String: Any])
    learner["feature_names"] = ["txn_count_5m", "age", "balance", "risk_level"]
    model["learner"] = learner
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("window-model-\(getpid()).json")
    defer { try? FileManager.default.removeItem(at: path) }
    try JSONSerialization.data(withJSONObject: model).write(to: path)
    try withHarness(modelPath: path.path) { harness in
      let micros = Int(Date().timeIntervalSince1970 * 1_000_000)
      try harness.redis.cli(["HSET", "fs:win:{customer:1}", "t1", "\(micros) 25.5 -", "t2", "\(micros) 4.5 -"])
      let reply = try harness.post("/predict?explain=true", transaction)
      XCTAssertEqual(reply.status, 200, reply.body)
      XCTAssertEqual((reply.json["features"] as? [String: Any])?["txn_count_5m"] as? Double, 2, reply.body)
    }
  }

  func testInvalidRequestsAre400NamingTheField() throws {
    let valid = #""transaction_id":"t","customer_id":1,"account_id":1,"merchant_id":1"#
    let cases: [(String, String)] = [
      ("", "empty body"),
      ("[1,2]", "expected a JSON object"),
      (#"{"transaction_id":"t","#, "not valid JSON"),
      (#"{"amount":1,"amount":2}"#, "'amount' appears twice"),
      ("{\(valid)}", "missing field 'amount'"),
      ("{\(valid),\"amount\":\"12.5\"}", "field 'amount' must be a number, not the string \"12.5\""),
      ("{\(valid),\"amount\":-0.01}", "field 'amount' must not be negative"),
      ("{\(valid),\"amount\":1e999}", "field 'amount' must be finite"),
      ("{\(valid),\"amount\":{\"value\":1}}", "field 'amount' must be a number, not an object or array"),
      (#"{"transaction_id":"t","account_id":1,"merchant_id":1,"amount":1}"#, "missing field 'customer_id'"),
      (
        #"{"transaction_id":"t","customer_id":true,"account_id":1,"merchant_id":1,"amount":1}"#,
        "field 'customer_id' must be a string or a non-negative integer"
      ),
      (
        #"{"transaction_id":"t","customer_id":"abc","account_id":1,"merchant_id":1,"amount":1}"#,
        "field 'customer_id': customer id 'abc' must be a decimal integer"
      ),
      (
        #"{"transaction_id":"","customer_id":1,"account_id":1,"merchant_id":1,"amount":1}"#,
        "field 'transaction_id' must not be empty"
      ),
      ("{\(valid),\"amount\":1,\"device_known\":\"yes\"}", "field 'device_known' must be true or false"),
      ("{\(valid),\"amount\":1,\"location_match\":1}", "field 'location_match' must be true or false"),
      (
        "{\(valid),\"amount\":1,\"transactions_last_hour\":-1}",
        "field 'transactions_last_hour' must be a non-negative integer"
      ),
      (
        "{\(valid),\"amount\":1,\"transactions_last_hour\":1.5}",
        "field 'transactions_last_hour' must be a non-negative integer"
      ),
      ("{\(valid),\"amount\":1,\"timestamp\":\"yesterday\"}", "field 'timestamp' must be epoch seconds or RFC 3339"),
      (
        "{\(valid),\"amount\":1,\"timestamp\":\"2026-02-30T00:00:00Z\"}",
        "field 'timestamp' must be epoch seconds or RFC 3339"
      ),
      ("{\(valid),\"amount\":1,\"timestamp\":-5}", "field 'timestamp' must be epoch seconds between 1970 and 9999"),
      ("{\(valid),\"amount\":1,\"merchant_category\":7}", "field 'merchant_category' must be a string"),
    ]
    try withHarness { harness in
      for (body, message) in cases {
        let reply = try harness.post("/predict", body)
        XCTAssertEqual(reply.status, 400, body)
        XCTAssertEqual(reply.json["error"] as? String, "invalid_request", body)
        let text = reply.json["message"] as? String ?? ""
        XCTAssertTrue(text.contains(message), "\(body): '\(text)' should contain '\(message)'")
      }
      // Unknown members are ignored (clients may send more than the model needs).
      XCTAssertEqual(try harness.post("/predict", "{\(valid),\"amount\":1,\"channel\":\"pos\"}").status, 200)
      XCTAssertEqual(try harness.get("/predict").status, 405)
    }
  }

  /// With Redis gone every stored input is missing: 200, degraded, the model's default
  /// directions decide; never a 5xx.
  func testRedisDownDegradesInsteadOfFailing() throws {
    try withHarness(configure: { $0.cache.ttl = 0 }) { harness in
      XCTAssertEqual(try harness.post("/predict", Self.transactions[0]).json["degraded"] as? Bool, false)
      harness.redis.kill(signal: SIGKILL)
      for transaction in Self.transactions {
        let reply = try harness.post("/predict?explain=true", transaction)
        XCTAssertEqual(reply.status, 200, reply.body)
        XCTAssertEqual(reply.json["degraded"] as? Bool, true, reply.body)
        let missing = reply.json["missing_features"] as? [String] ?? []
        for name in ["age", "balance", "risk_level", "amount_zscore"] {
          XCTAssertTrue(missing.contains(name), "\(name) missing in \(reply.body)")
        }
        let probability = try XCTUnwrap(reply.json["fraud_probability"] as? NSNumber).doubleValue
        XCTAssertTrue(probability >= 0 && probability <= 1)
      }
    }
  }

  /// Reloads swap the model while clients keep predicting: no request fails, answers move to
  /// the new version, a broken file keeps the old model, and the endpoint demands the token.
  func testHotReloadUnderLoadFailsNoRequest() throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
      "reload-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let path = directory.appendingPathComponent("model.json").path
    let original = try String(contentsOfFile: Self.modelPath, encoding: .utf8)
    let version = try XCTUnwrap(XGBoostModel(contentsOf: Self.modelPath).attributes["model_version"])
    try original.write(toFile: path, atomically: true, encoding: .utf8)
    let token = "s3cret-token-for-tests"
    try withHarness(configure: { $0.adminToken = token }, modelPath: path) { harness in
      let stop = Collected<Bool>()
      let failures = Collected<String>()
      let answered = Collected<Int>()
      let versions = Collected<String>()
      let clients = (0..<4).map { client in
        Thread {
          guard let connection = try? RawConnection(port: harness.port) else { return failures.append("connect") }
          var count = 0
          while stop.values.isEmpty {
            let body = PredictTests.transactions[(client + count) % PredictTests.transactions.count]
            connection.send("POST /predict HTTP/1.1\r\nHost: t\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
            guard let response = connection.readResponses(1).first else { return failures.append("no answer") }
            let reply = FeatureServerHarness.parse(response)
            if reply.status != 200 { failures.append("\(reply.status) \(reply.body)") }
            if let served = reply.json["model_version"] as? String, count % 10 == 0 { versions.append(served) }
            count += 1
          }
          answered.append(count)
        }
      }
      clients.forEach { $0.start() }
      let auth = "Authorization: Bearer \(token)\r\n"
      XCTAssertEqual(try harness.post("/admin/reload-model", "").status, 401)
      XCTAssertEqual(
        try harness.post("/admin/reload-model", "", headers: "Authorization: Bearer wrong\r\n").status, 401)
      for round in 1...6 {
        try original.replacingOccurrences(of: version, with: "reloaded-\(round)").write(
          toFile: path, atomically: true, encoding: .utf8)
        let reply = try harness.post("/admin/reload-model", "", headers: auth)
        XCTAssertEqual(reply.status, 200, reply.body)
        XCTAssertEqual(reply.json["model_version"] as? String, "reloaded-\(round)")
        usleep(150_000)
      }
      try "{ not a model".write(toFile: path, atomically: true, encoding: .utf8)
      let rejected = try harness.post("/admin/reload-model", "", headers: auth)
      XCTAssertEqual(rejected.status, 422, rejected.body)
      XCTAssertTrue((rejected.json["message"] as? String ?? "").contains("still serving reloaded-6"), rejected.body)
      usleep(100_000)
      stop.append(true)
      XCTAssertNotNil(waitUntil(timeout: 10) { answered.values.count == 4 })
      XCTAssertEqual(failures.values, [])
      XCTAssertGreaterThan(answered.values.reduce(0, +), 50)
      XCTAssertEqual(try harness.post("/predict", Self.transactions[1]).json["model_version"] as? String, "reloaded-6")
      XCTAssertTrue(versions.values.contains(version) || versions.values.contains { $0.hasPrefix("reloaded-") })
      let metrics = try harness.get("/metrics").body
      XCTAssertTrue(metrics.contains(#"featureserver_model_reloads_total{result="success"} 6"#))
      XCTAssertTrue(metrics.contains(#"featureserver_model_reloads_total{result="failure"} 1"#))
      XCTAssertTrue(metrics.contains(#"featureserver_model_info{version="reloaded-6""#))
    }
  }

  /// Without --admin-token the reload endpoint does not exist.
  func testReloadEndpointIsAbsentWithoutAToken() throws {
    try withHarness { harness in
      XCTAssertEqual(try harness.post("/admin/reload-model", "").status, 404)
    }
  }

  /// The vectors training/features.py computes for `transactions` from the bundled CSVs
  /// (nil where missing).
  static func pythonVectors(python: String) throws -> [[Double?]] {
    let script = """
      import csv, json, math, sys
      sys.path.insert(0, sys.argv[1] + "/training")
      import features
      def table(name):
          with open(sys.argv[1] + "/data/" + name + ".csv") as handle:
              return {row[name[:-1] + "_id"]: row for row in csv.DictReader(handle)}
      customers, accounts, merchants = table("customers"), table("accounts"), table("merchants")
      out = []
      for line in open(sys.argv[2]):
          t = json.loads(line)
          if isinstance(t.get("timestamp"), str):
              from datetime import datetime
              t["timestamp"] = int(datetime.fromisoformat(t["timestamp"].replace("Z", "+00:00")).timestamp())
          row = features.model_row(t, customers.get(str(t["customer_id"]), {}), accounts.get(str(t["account_id"]), {}),
                                   merchants.get(str(t["merchant_id"]), {}))
          out.append([None if math.isnan(v) else v for v in row])
      print(json.dumps(out))
      """
    let input = FileManager.default.temporaryDirectory.appendingPathComponent("transactions-\(getpid()).jsonl")
    try (transactions.joined(separator: "\n") + "\n").write(to: input, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(at: input) }
    let (status, output) = try runCommand(python, ["-c", script, packageRoot.path, input.path])
    XCTAssertEqual(status, 0, output)
    let decoded = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [[Any]] ?? []
    return decoded.map { row in row.map { ($0 as? NSNumber)?.doubleValue } }
  }
}
