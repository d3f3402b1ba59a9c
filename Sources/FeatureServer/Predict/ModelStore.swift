import Atomics
import Dispatch
import Foundation
import HTTPCore
import Logging
import Reactor

/// A model ready to serve: the evaluator, its input plan against the registry and its identity.
public final class LoadedModel: Sendable {
  public let model: XGBoostModel
  let plan: ModelInputPlan
  /// The booster's `model_version` attribute, else the file name and a digest of its bytes.
  public let version: String
  public let path: String
  /// The drift histograms of this model's inputs; nil when drift is off or the model has no
  /// reference distribution beside it.
  public let drift: DriftTracker?

  /// The bundled FinServe fraud model (`models/fraud_xgb.json` in the source tree).
  public static var bundledPath: String {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("models/fraud_xgb.json").path
  }

  /// Loads and checks the model at `path` against `registry`; with `drift`, also its reference
  /// distribution (`<model>.reference.json`), when there is one.
  public init(path: String, registry: Registry, drift: DriftSettings? = nil, limits: ModelLimits = ModelLimits()) throws
  {
    guard let data = FileManager.default.contents(atPath: path) else {
      throw ModelLoadError("\(path): cannot read the model file")
    }
    do {
      model = try XGBoostModel(json: data, limits: limits)
      plan = try ModelInputPlan(model: model, registry: registry)
    } catch let error as ModelLoadError {
      throw ModelLoadError("\(path): \(error.description)")
    }
    self.path = path
    if let declared = model.attributes["model_version"], !declared.isEmpty {
      version = declared
    } else {
      var hash: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a
      for byte in data { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
      let stem = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
      version = "\(stem)-\(String(hash >> 32, radix: 16))"
    }
    if let drift, drift.window > 0 {
      let referencePath = DriftReference.path(besideModel: path)
      if FileManager.default.fileExists(atPath: referencePath) {
        let reference = try DriftReference(path: referencePath, inputNames: model.featureNames)
        self.drift = DriftTracker(reference: reference, window: drift.window, loops: drift.loops)
      } else {
        modelLogger.warning(
          "no drift reference beside the model; drift gauges are off for it", metadata: ["expected": "\(referencePath)"]
        )
        self.drift = nil
      }
    } else {
      self.drift = nil
    }
  }
}

/// How drift is tracked: over a sliding `window` of seconds (0 turns it off), on `loops` loops.
public struct DriftSettings: Sendable {
  public var window: Double
  public var loops: Int
  public init(window: Double = 600, loops: Int) {
    self.window = window
    self.loops = loops
  }
}

/// The serving model, swapped atomically on reload: each loop holds its own reference, replaced
/// on that loop's thread, so the request path takes no lock and a request in flight finishes
/// on the model it started with. A file that fails to load leaves the old model serving.
public final class ModelStore: @unchecked Sendable {
  /// One loop's reference; read and written on that loop only (hence unchecked Sendable).
  final class Slot: @unchecked Sendable {
    var model: LoadedModel
    init(_ model: LoadedModel) { self.model = model }
  }

  public let registry: Registry
  let drift: DriftSettings
  let limits: ModelLimits
  let slots: [Slot]
  private let loops: [EventLoop]
  private let lock = NSLock()
  private var latest: LoadedModel
  private let reloadQueue = DispatchQueue(label: "featureserver.model-reload")
  let reloadSuccesses = ManagedAtomic<Int>(0)
  let reloadFailures = ManagedAtomic<Int>(0)

  /// Loads the model at `path`; throws when it cannot serve. `driftWindow` seconds of inputs
  /// feed the drift gauges (0: off).
  public init(
    path: String, registry: Registry, loops: [EventLoop], driftWindow: Double = 600, limits: ModelLimits = ModelLimits()
  ) throws {
    let drift = DriftSettings(window: driftWindow, loops: loops.count)
    let model = try LoadedModel(path: path, registry: registry, drift: drift, limits: limits)
    self.drift = drift
    self.limits = limits
    self.registry = registry
    self.loops = loops
    latest = model
    slots = loops.map { _ in Slot(model) }
  }

  /// The model most recently loaded (what every loop serves once its swap has run).
  public var current: LoadedModel { lock.withLock { latest } }

  /// Loads `path` (default: the current model's path) off the loops and swaps it in on every
  /// loop. `completion` gets the new model or why the file was refused (the old one keeps
  /// serving), after every loop has swapped.
  public func reload(
    from path: String? = nil, completion: @escaping @Sendable (Result<LoadedModel, ModelLoadError>) -> Void = { _ in }
  ) {
    reloadQueue.async { [self] in
      let target = path ?? current.path
      let loaded: LoadedModel
      do {
        loaded = try LoadedModel(path: target, registry: registry, drift: drift, limits: limits)
      } catch {
        reloadFailures.wrappingIncrement(ordering: .relaxed)
        let failure = error as? ModelLoadError ?? ModelLoadError("\(error)")
        modelLogger.error(
          "model reload failed; the previous model keeps serving",
          metadata: ["path": "\(target)", "error": "\(failure)", "serving": "\(current.version)"])
        completion(.failure(failure))
        return
      }
      lock.withLock { latest = loaded }
      let swapped = DispatchGroup()
      for (index, loop) in loops.enumerated() {
        swapped.enter()
        // A loop that has stopped (shutdown) refuses the work: nothing to wait for there.
        let accepted = loop.execute { [slots] in
          slots[index].model = loaded
          swapped.leave()
        }
        if !accepted { swapped.leave() }
      }
      swapped.wait()
      reloadSuccesses.wrappingIncrement(ordering: .relaxed)
      modelLogger.notice(
        "model reloaded",
        metadata: ["path": "\(target)", "version": "\(loaded.version)", "trees": "\(loaded.model.treeCount)"])
      completion(.success(loaded))
    }
  }
}

let modelLogger = Logger(label: "featureserver.model")
