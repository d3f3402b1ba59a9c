import Codecs
import HTTPCore
import Reactor

#if canImport(Glibc)
  import Glibc
#endif

/// The features one request asked for, grouped by the view that holds them.
struct FeastSelection {
  struct Group {
    let view: FeastFeatureView
    /// The view's name as the response names it (`<name>__<feature>`).
    let name: String
    /// Feature positions in the view, in the order asked.
    var features: [Int]
  }
  var groups: [Group] = []
  /// Column names as JSON strings, in response order.
  var names: [[UInt8]] = []
}

/// Feast's API on top of the feature readers: `POST /get-online-features`, and (in
/// FeastWrites.swift) `POST /write-to-online-store` and `POST /push`.
public final class FeastServing: Sendable {
  public let repository: FeastRepository
  public let configuration: FeastConfiguration
  let project: [UInt8]

  public init(repository: FeastRepository, configuration: FeastConfiguration) {
    self.repository = repository
    self.configuration = configuration
    project = Array(repository.project.utf8)
  }

  var registry: FeastRegistry { repository.registry }

  /// The groups and column names for a list of `view:feature` references or a feature service,
  /// refusing what Feast refuses (unknown views and features, colliding names).
  func select(_ request: FeastOnlineRequest, references: [String]) throws(FeastRequestError) -> FeastSelection {
    var selection = FeastSelection()
    var groupOfView: [Int: Int] = [:]
    if let serviceName = request.featureService, !serviceName.isEmpty {
      guard let service = registry.services[serviceName] else {
        if let reason = registry.notServed.first(where: { $0.kind == "feature service" && $0.name == serviceName })?
          .reason
        {
          throw FeastRequestError.feast(
            className: "FeastError",
            message: "Feature service \(serviceName) is not served by featureserver: \(reason)",
            status: .notImplemented)
        }
        throw FeastRequestError.feast(
          className: "FeatureServiceNotFoundException",
          message: "Feature service \(serviceName) does not exist in project \(registry.project)", status: .notFound)
      }
      for projection in service.projections {
        selection.groups.append(.init(view: projection.view, name: projection.name, features: projection.features))
      }
    } else {
      guard !references.isEmpty else {
        throw FeastRequestError.invalid(["body", "features"], "No features specified for retrieval")
      }
      for reference in references {
        let view: FeastFeatureView
        let feature: Int
        if let known = registry.featureByReference[reference] {
          (view, feature) = known
        } else {
          try refuseReference(reference)
        }
        let group: Int
        if let existing = groupOfView[view.index] {
          group = existing
        } else {
          group = selection.groups.count
          groupOfView[view.index] = group
          selection.groups.append(.init(view: view, name: view.name, features: []))
        }
        selection.groups[group].features.append(feature)
      }
    }
    // Names in group order, as Feast lays out its columns; a name twice is a collision. One view
    // without aliases (the common request) can only collide by naming a feature twice.
    var collisions: [String] = []
    if selection.groups.count == 1 && selection.groups[0].name == selection.groups[0].view.name {
      let group = selection.groups[0]
      for (position, feature) in group.features.enumerated() {
        let described = group.view.features[feature]
        selection.names.append(request.fullFeatureNames ? described.fullNameJSON : described.nameJSON)
        if group.features[..<position].contains(feature) {
          collisions.append(request.fullFeatureNames ? described.fullName : described.name)
        }
      }
    } else {
      var seen: Set<String> = []
      for group in selection.groups {
        for feature in group.features {
          let described = group.view.features[feature]
          let name =
            !request.fullFeatureNames
            ? described.name : group.name == group.view.name ? described.fullName : "\(group.name)__\(described.name)"
          if !seen.insert(name).inserted { collisions.append(name) }
          selection.names.append(JSONText.quotedBytes(name))
        }
      }
    }
    if !collisions.isEmpty {
      let hint =
        request.fullFeatureNames
        ? "To resolve this collision, please ensure that the feature views or their own features have different names. If you're intentionally joining the same feature view twice on different sets of entities, please rename one of the feature views with '.with_name'."
        : "To resolve this collision, either use the full feature name by setting 'full_feature_names=True', or ensure that the features in question have different names."
      throw FeastRequestError.feast(
        className: "FeatureNameCollisionError",
        message: "Duplicate features named \(Set(collisions).sorted().joined(separator: ", ")) found.\n\(hint)",
        status: .badRequest)
    }
    return selection
  }

  /// Why a `view:feature` reference names nothing served: Feast's error for it.
  private func refuseReference(_ reference: String) throws(FeastRequestError) -> Never {
    guard let colon = reference.firstIndex(of: ":") else {
      throw FeastRequestError.invalid(
        ["body", "features"], "Invalid feature reference '\(reference)'. Expected format: '<feature_view>:<feature>'")
    }
    let viewName = String(reference[..<colon])
    let featureName = String(reference[reference.index(after: colon)...])
    if viewName.utf8.contains(UInt8(ascii: "@")) {
      throw FeastRequestError.invalid(
        ["body", "features"], "Version-qualified ref '\(viewName)' not supported: online versioning is disabled")
    }
    guard registry.viewByName[viewName] != nil else {
      if let reason = registry.unservedViews[viewName] {
        throw FeastRequestError.feast(
          className: "FeastError", message: "Feature view \(viewName) is not served by featureserver: \(reason)",
          status: .notImplemented)
      }
      throw FeastRequestError.featureViewNotFound(viewName, project: registry.project)
    }
    throw FeastRequestError.feast(
      className: "FeastObjectNotFoundException", message: "Feature \(featureName) not found in projection \(viewName)",
      status: .notFound)
  }

  /// The request's entity columns converted to their join keys' types: those that name a join
  /// key (or an entity) of the project, in the request's order. Columns that name neither are
  /// ignored, as Feast ignores them.
  func entityColumns(_ request: FeastOnlineRequest, selection: FeastSelection) throws(FeastRequestError) -> (
    columns: [FeastEntityColumn], rows: Int
  ) {
    // The type a selected view declares for a join key (requests name few views and keys).
    func declaredType(_ joinKey: String) -> FeastValueType {
      for group in selection.groups {
        for key in group.view.joinKeys where key.name == joinKey && key.type != .invalid { return key.type }
      }
      return .invalid
    }
    var rows: Int? = nil
    var columns: [FeastEntityColumn] = []
    for (name, values) in request.entities {
      if let rows, rows != values.count {
        throw FeastRequestError.invalid(["body", "entities"], "All entity rows must have the same columns.")
      }
      rows = values.count
      let joinKey: String
      if registry.joinKeyTypes[name] != nil {
        joinKey = name
      } else if let mapped = registry.joinKeyOfEntity[name] {
        joinKey = mapped
      } else {
        continue
      }
      guard !columns.contains(where: { $0.joinKey == joinKey }) else {
        throw FeastRequestError.invalid(["body", "entities", name], "join key '\(joinKey)' is given twice")
      }
      var column = FeastEntityColumn(joinKey: joinKey)
      column.keyParts.reserveCapacity(values.count)
      column.echoes.reserveCapacity(values.count)
      let type = declaredType(joinKey)
      for (row, value) in values.enumerated() {
        let (part, echo) = try FeastEntityKey.convert(value, to: type, location: ["body", "entities", name, "\(row)"])
        column.keyParts.append(part)
        column.echoes.append(echo)
      }
      columns.append(column)
    }
    return (columns, rows ?? 0)
  }
}

extension FeatureService {
  // MARK: POST /get-online-features

  func getOnlineFeatures(_ request: HTTPRequest, _ responder: HTTPResponder, feast: FeastServing) {
    let started = monotonicNanoseconds()
    func refuse(_ error: FeastRequestError) {
      answer(responder, .feastOnlineFeatures, error.response, since: started)
    }
    let parsed: FeastOnlineRequest
    let selection: FeastSelection
    let entities: (columns: [FeastEntityColumn], rows: Int)
    do throws(FeastRequestError) {
      let memo = feastSelectionMemos[responder.eventLoop.index]
      (parsed, selection) = try request.body.withUnsafeBufferPointer { bytes throws(FeastRequestError) in
        let parsed = try FeastOnlineRequest.parse(bytes, limits: feast.configuration)
        return (parsed, try memo.selection(for: parsed, body: bytes, serving: feast))
      }
      entities = try feast.entityColumns(parsed, selection: selection)
    } catch {
      return refuse(error)
    }
    let rowCount = entities.rows
    guard rowCount * selection.groups.count <= feast.configuration.maxRowReads else {
      return refuse(
        .tooLarge(
          "\(rowCount) entity rows x \(selection.groups.count) feature views is more than \(feast.configuration.maxRowReads) row reads in one request (--feast-max-row-reads)"
        ))
    }
    // One read per view and row; all of them in one pipelined round trip.
    var reads: [(source: RowSource, key: RowKey)] = []
    reads.reserveCapacity(selection.groups.count * rowCount)
    for group in selection.groups {
      let view = group.view
      // A join key the request does not give is left out of the key, as Feast does: the row is
      // then not found (nulls). With none of the view's join keys given Feast refuses.
      var columnOfKey: [Int?] = []
      for joinKey in view.joinKeys {
        if joinKey.name == FeastRegistryBuilder.dummyJoinKey {
          columnOfKey.append(-1)
        } else {
          columnOfKey.append(entities.columns.firstIndex(where: { $0.joinKey == joinKey.name }))
        }
      }
      if !view.joinKeys.isEmpty, columnOfKey.allSatisfy({ $0 == nil }) {
        let expected = view.joinKeys.map { "'\($0.name)'" }.sorted().joined(separator: ", ")
        let provided = parsed.entities.map { "'\($0.name)'" }.joined(separator: ", ")
        return refuse(
          .invalid(
            ["body", "entities"],
            "Missing join key values for keys: [\(expected)] (needed by feature view \(view.name)). Provided join_key_values: [\(provided)]"
          ))
      }
      var parts = [[UInt8]?](repeating: nil, count: view.joinKeys.count)
      for row in 0..<rowCount {
        for (position, column) in columnOfKey.enumerated() {
          guard let column else { continue }
          parts[position] = column < 0 ? FeastServing.dummyKeyPart : entities.columns[column].keyParts[row]
        }
        reads.append((view, view.rowKey(parts: parts, project: feast.project)))
      }
    }
    let loopIndex = responder.eventLoop.index
    readers[loopIndex].read(rows: reads) { [self] results in
      if let failure = results.first(where: { if case .unavailable = $0 { return true } else { return false } }),
        case .unavailable(let error) = failure
      {
        return refuse(.unavailable("the online store (Redis) cannot answer: \(error)"))
      }
      var body: [UInt8] = []
      body.reserveCapacity(
        FeastResponseWriter.estimatedSize(
          selection: selection, entityColumns: entities.columns.count, rowCount: rowCount, results: results))
      FeastResponseWriter.write(
        parsed: parsed, selection: selection, columns: entities.columns, rowCount: rowCount, results: results,
        enforceTTL: feast.configuration.enforceTTL, now: Int64(time(nil)), metrics: metrics[loopIndex], into: &body)
      answer(
        responder, .feastOnlineFeatures, HTTPResponse(headers: cacheHeaders(Self.overall(results)), body: body),
        since: started)
    }
  }
}

extension FeatureService {
  /// What `X-Cache` says of a whole request: MISS when any row was read from Redis, else STALE
  /// when any was served stale, else HIT.
  static func overall(_ results: [RowResult]) -> CacheResult {
    var overall = CacheResult.hit
    for result in results {
      switch result {
      case .found(_, let cache), .missing(let cache), .invalid(let cache):
        if cache == .miss { return .miss }
        if cache == .stale { overall = .stale }
      case .unavailable: return .miss
      }
    }
    return overall
  }
}

extension FeastServing {
  /// The key part of Feast's dummy entity value (the empty string) for views without entities.
  static let dummyKeyPart: [UInt8] = [2, 0, 0, 0, 0, 0, 0, 0]
}
