import HTTPCore
import Reactor

extension FeatureService {
  /// The drift report of the serving model, or nil when drift is off for it.
  func driftReport() -> (LoadedModel, DriftReport)? {
    guard let current = models?.current, let tracker = current.drift else { return nil }
    return (current, DriftReport(tracker: tracker, now: monotonicNanoseconds()))
  }

  // MARK: GET /drift

  func drift(_ responder: HTTPResponder) {
    guard let (model, report) = driftReport() else {
      return answer(
        responder, .drift,
        .error(
          .notFound, code: "drift_off",
          message: "drift is off: no model, --drift-window 0, or no reference distribution beside the model"),
        since: 0)
    }
    var body: [UInt8] = []
    JSONWriter.appendRaw(#"{"model_version":"#, to: &body)
    JSONWriter.appendString(model.version, to: &body)
    JSONWriter.appendRaw(#","window_seconds":"#, to: &body)
    JSONWriter.appendDouble(report.window, to: &body)
    JSONWriter.appendRaw(#","samples":"#, to: &body)
    JSONWriter.appendInteger(Int64(report.samples), to: &body)
    JSONWriter.appendRaw(#","psi_alarm":0.25,"drift_share":"#, to: &body)
    JSONWriter.appendDouble(report.driftShare, to: &body)
    JSONWriter.appendRaw(#","features":["#, to: &body)
    for (index, feature) in report.features.enumerated() {
      if index > 0 { body.append(UInt8(ascii: ",")) }
      let total = feature.counts.reduce(0, +)
      func share(_ count: Int) {
        total > 0
          ? JSONWriter.appendDouble(Double(count) / Double(total), to: &body) : JSONWriter.appendRaw("null", to: &body)
      }
      JSONWriter.appendRaw(#"{"name":"#, to: &body)
      JSONWriter.appendString(feature.name, to: &body)
      JSONWriter.appendRaw(#","psi":"#, to: &body)
      JSONWriter.appendDouble(feature.psi ?? .nan, to: &body)
      JSONWriter.appendRaw(#","ks":"#, to: &body)
      JSONWriter.appendDouble(feature.ks ?? .nan, to: &body)
      JSONWriter.appendRaw(#","bins":["#, to: &body)
      let edges = feature.reference.edges
      for bin in 0...edges.count {
        if bin > 0 { body.append(UInt8(ascii: ",")) }
        JSONWriter.appendRaw(#"{"lower":"#, to: &body)
        JSONWriter.appendDouble(bin == 0 ? .nan : edges[bin - 1], to: &body)
        JSONWriter.appendRaw(#","upper":"#, to: &body)
        JSONWriter.appendDouble(bin == edges.count ? .nan : edges[bin], to: &body)
        JSONWriter.appendRaw(#","reference":"#, to: &body)
        JSONWriter.appendDouble(feature.reference.proportions[bin], to: &body)
        JSONWriter.appendRaw(#","actual":"#, to: &body)
        share(feature.counts[bin])
        JSONWriter.appendRaw(#","count":"#, to: &body)
        JSONWriter.appendInteger(Int64(feature.counts[bin]), to: &body)
        body.append(UInt8(ascii: "}"))
      }
      JSONWriter.appendRaw(#"],"missing":{"reference":"#, to: &body)
      JSONWriter.appendDouble(feature.reference.proportions[edges.count + 1], to: &body)
      JSONWriter.appendRaw(#","actual":"#, to: &body)
      share(feature.counts[edges.count + 1])
      JSONWriter.appendRaw(#","count":"#, to: &body)
      JSONWriter.appendInteger(Int64(feature.counts[edges.count + 1]), to: &body)
      JSONWriter.appendRaw("}}", to: &body)
    }
    JSONWriter.appendRaw("]}", to: &body)
    answer(responder, .drift, HTTPResponse(headers: jsonHeaders, body: body), since: 0)
  }
}
