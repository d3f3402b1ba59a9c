/// Turns Feast's registry message into what the server serves, deciding for each object whether
/// it can be served and, if not, why.
enum FeastRegistryBuilder {
  /// Feast's join key for feature views without entities, and the value it always has.
  static let dummyJoinKey = "__dummy_id"

  /// `generation` tells this registry's rows apart in the cache from those of an earlier read
  /// of the registry file (whose views may have other fields at the same index).
  static func build(
    _ message: Feast_Core_Registry, project: String, generation: UInt16 = 0,
    fail: (String) -> FeastRepositoryError
  ) throws -> FeastRegistry {
    func inProject(_ name: String) -> Bool { name.isEmpty || name == project }
    var notServed: [(kind: String, name: String, reason: String)] = []
    var unservedViews: [String: String] = [:]

    var joinKeyOfEntity: [String: String] = [:]
    var joinKeyTypes: [String: FeastValueType] = [:]
    for entity in message.entities where inProject(entity.spec.project) {
      let joinKey = entity.spec.joinKey.isEmpty ? entity.spec.name : entity.spec.joinKey
      joinKeyOfEntity[entity.spec.name] = joinKey
      joinKeyTypes[joinKey] = FeastValueType(rawValue: Int32(entity.spec.valueType.rawValue))
    }

    // Every kind of view that keeps its rows in the online store, in registry order.
    struct Candidate {
      let kind: String
      let name: String
      let entities: [String]
      let entityColumns: [Feast_Core_FeatureSpecV2]
      let features: [Feast_Core_FeatureSpecV2]
      let ttlSeconds: Int64
      let online: Bool
      let disabled: Bool
      let streamSource: Feast_Core_DataSource?
      var batchTimestampField = ""
    }
    var candidates: [Candidate] = []
    for view in message.featureViews where inProject(view.spec.project) {
      let spec = view.spec
      candidates.append(
        Candidate(
          kind: "feature view", name: spec.name, entities: spec.entities, entityColumns: spec.entityColumns,
          features: spec.features, ttlSeconds: spec.ttl.seconds, online: spec.online, disabled: spec.disabled,
          streamSource: spec.hasStreamSource ? spec.streamSource : nil,
          batchTimestampField: spec.batchSource.timestampField))
    }
    for view in message.streamFeatureViews where inProject(view.spec.project) {
      let spec = view.spec
      candidates.append(
        Candidate(
          kind: "stream feature view", name: spec.name, entities: spec.entities, entityColumns: spec.entityColumns,
          features: spec.features, ttlSeconds: spec.ttl.seconds, online: spec.online, disabled: false,
          streamSource: spec.hasStreamSource ? spec.streamSource : nil,
          batchTimestampField: spec.batchSource.timestampField))
    }
    for view in message.onDemandFeatureViews where inProject(view.spec.project) {
      let spec = view.spec
      if spec.writeToOnlineStore {
        // Its outputs were written to the online store under its name: read like a feature view.
        candidates.append(
          Candidate(
            kind: "on-demand feature view", name: spec.name, entities: spec.entities,
            entityColumns: spec.entityColumns, features: spec.features, ttlSeconds: 0, online: true, disabled: false,
            streamSource: nil))
      } else {
        let reason = "on-demand feature view with a Python transformation computed at request time"
        notServed.append(("on-demand feature view", spec.name, reason))
        unservedViews[spec.name] = reason
      }
    }

    var views: [FeastFeatureView] = []
    var viewByName: [String: FeastFeatureView] = [:]
    var pushSources: [String: [FeastFeatureView]] = [:]
    for candidate in candidates {
      func skip(_ reason: String) {
        notServed.append((candidate.kind, candidate.name, reason))
        unservedViews[candidate.name] = reason
      }
      if candidate.disabled { skip("disabled"); continue }
      if !candidate.online { skip("online: false (offline only)"); continue }
      if viewByName[candidate.name] != nil { skip("a second view with the same name"); continue }
      var joinKeys: [FeastJoinKey] = []
      var missingEntity: String? = nil
      for entityName in candidate.entities {
        guard let joinKey = joinKeyOfEntity[entityName] else {
          missingEntity = entityName
          break
        }
        let declared = candidate.entityColumns.first { $0.name == joinKey }.map {
          FeastValueType(rawValue: Int32($0.valueType.rawValue))
        }
        let type = declared ?? joinKeyTypes[joinKey] ?? .invalid
        joinKeys.append(
          FeastJoinKey(name: joinKey, type: type == .invalid ? (joinKeyTypes[joinKey] ?? .invalid) : type))
      }
      if let missingEntity { skip("its entity '\(missingEntity)' is not in the registry"); continue }
      if joinKeys.isEmpty || (joinKeys.count == 1 && joinKeys[0].name == dummyJoinKey) {
        joinKeys = [FeastJoinKey(name: dummyJoinKey, type: .string)]
      }
      if let unsupported = joinKeys.first(where: { $0.type != .invalid && !$0.type.isKeyType }) {
        skip("join key '\(unsupported.name)' has type \(unsupported.type), which Feast cannot serialise in a key")
        continue
      }
      let pushSource = candidate.streamSource.flatMap { $0.type == .pushSource ? $0.name : nil }
      let view = FeastFeatureView(
        name: candidate.name, index: views.count, generation: generation, joinKeys: joinKeys,
        features: candidate.features.map { ($0.name, FeastValueType(rawValue: Int32($0.valueType.rawValue))) },
        ttlSeconds: max(0, candidate.ttlSeconds), pushSource: pushSource,
        timestampColumn: candidate.batchTimestampField.isEmpty ? nil : candidate.batchTimestampField)
      views.append(view)
      viewByName[view.name] = view
      if let pushSource { pushSources[pushSource, default: []].append(view) }
    }
    guard views.count <= 65_535 else { throw fail("more than 65535 feature views") }

    var services: [String: FeastFeatureService] = [:]
    serviceLoop: for service in message.featureServices where inProject(service.spec.project) {
      var projections: [FeastProjection] = []
      for projection in service.spec.features {
        func skip(_ reason: String) { notServed.append(("feature service", service.spec.name, reason)) }
        guard let view = viewByName[projection.featureViewName] else {
          skip(
            "its feature view '\(projection.featureViewName)' is not served (\(unservedViews[projection.featureViewName] ?? "not in the registry"))"
          )
          continue serviceLoop
        }
        if !projection.joinKeyMap.isEmpty {
          skip("it maps join keys (with_join_key_map), which featureserver does not apply yet")
          continue serviceLoop
        }
        if projection.hasVersionTag {
          skip("it pins a feature view version")
          continue serviceLoop
        }
        var positions: [Int] = []
        let columns =
          projection.featureColumns.isEmpty ? view.features.map(\.name) : projection.featureColumns.map(\.name)
        for name in columns {
          guard let position = view.featureIndex[name] else {
            skip("feature '\(name)' is not in feature view '\(view.name)'")
            continue serviceLoop
          }
          positions.append(position)
        }
        let alias = projection.featureViewNameAlias
        projections.append(FeastProjection(view: view, name: alias.isEmpty ? view.name : alias, features: positions))
      }
      services[service.spec.name] = FeastFeatureService(name: service.spec.name, projections: projections)
    }
    return FeastRegistry(
      project: project, joinKeyOfEntity: joinKeyOfEntity, joinKeyTypes: joinKeyTypes, views: views,
      services: services, pushSources: pushSources, notServed: notServed, unservedViews: unservedViews)
  }
}
