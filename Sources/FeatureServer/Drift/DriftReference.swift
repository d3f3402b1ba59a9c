import Foundation

/// The training distribution of every model input, as `training/train.py` exports it beside the
/// model (`<model>.reference.json`): fixed bin edges, the share of training rows per bin and the
/// share missing. Bins are (-inf, e0), [e0, e1), …, [e_last, +inf), then missing.
public struct DriftReference: Sendable {
  public struct Feature: Sendable {
    public let name: String
    public let edges: [Double]
    /// Shares of the `edges.count + 1` value bins, then of missing values: sums to 1.
    public let proportions: [Double]

    /// The bin of `value`: the number of edges at or below it; NaN goes to the missing bin.
    @inline(__always)
    func bin(_ value: Double) -> Int {
      if value.isNaN { return edges.count + 1 }
      var low = 0
      var high = edges.count
      while low < high {
        let middle = (low + high) / 2
        if edges[middle] <= value { low = middle + 1 } else { high = middle }
      }
      return low
    }
  }

  /// In the model's input order.
  public let features: [Feature]

  /// The reference file conventionally beside `modelPath`: `m.json` → `m.reference.json`.
  public static func path(besideModel modelPath: String) -> String {
    let url = URL(fileURLWithPath: modelPath)
    return url.deletingPathExtension().appendingPathExtension("reference.json").path
  }

  /// Loads `path` and orders its features as `inputNames`; every input must be present.
  public init(path: String, inputNames: [String]) throws {
    guard let data = FileManager.default.contents(atPath: path) else {
      throw ModelLoadError("\(path): cannot read the drift reference")
    }
    guard let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
      let entries = root["features"] as? [String: Any]
    else {
      throw ModelLoadError("\(path): not a drift reference (expected {\"features\": {name: {...}}})")
    }
    var features: [Feature] = []
    for name in inputNames {
      guard let entry = entries[name] as? [String: Any], let edges = entry["edges"] as? [Double],
        let proportions = entry["proportions"] as? [Double], let missing = entry["missing_proportion"] as? Double
      else {
        throw ModelLoadError("\(path): no edges, proportions and missing_proportion for model input '\(name)'")
      }
      guard proportions.count == edges.count + 1, zip(edges, edges.dropFirst()).allSatisfy({ $0 < $1 }) else {
        throw ModelLoadError("\(path): input '\(name)' needs increasing edges and one more proportion than edges")
      }
      features.append(Feature(name: name, edges: edges, proportions: proportions + [missing]))
    }
    self.features = features
  }

  init(features: [Feature]) {
    self.features = features
  }
}
