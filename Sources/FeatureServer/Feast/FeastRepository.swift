import Foundation
import RedisPool
import SwiftProtobuf
import Yams

/// A Feast repository that cannot be served as it is: the file and the reason.
public struct FeastRepositoryError: Error, CustomStringConvertible, Equatable {
  public let file: String
  public let reason: String
  public var description: String { "\(file): \(reason)" }
}

/// A Feast feature repository as featureserver serves it: `feature_store.yaml` (the project, the
/// Redis online store and the registry file it names) and the registry read from that file.
public struct FeastRepository: Sendable {
  public let directory: String
  public let project: String
  /// The registry file (`registry:` in feature_store.yaml, relative to the repository).
  public let registryPath: String
  /// `online_store.connection_string`, as a redis:// URL for the pool (password inside).
  public let redisURL: String
  /// `online_store.key_ttl_seconds`: writes set this expiry on the keys they touch (nil: none).
  public let keyTTLSeconds: Int?
  public let registry: FeastRegistry

  /// Reads `directory/feature_store.yaml` and the registry it names. `${VAR}` and `$VAR` are
  /// expanded from the environment first, as Feast does.
  /// `generation` numbers the reads of a repository (see `FeastRegistryBuilder.build`).
  public static func load(
    directory: String, environment: [String: String] = ProcessInfo.processInfo.environment, generation: UInt16 = 0
  ) throws -> FeastRepository {
    let yamlPath = (directory as NSString).appendingPathComponent("feature_store.yaml")
    func fail(_ reason: String, _ file: String = yamlPath) -> FeastRepositoryError {
      FeastRepositoryError(file: file, reason: reason)
    }
    guard let data = FileManager.default.contents(atPath: yamlPath) else {
      throw fail("cannot read the file (is \(directory) a Feast feature repository?)")
    }
    let text = expandVariables(String(decoding: data, as: UTF8.self), environment: environment)
    let root: [String: Any]
    do {
      guard let parsed = try Yams.load(yaml: text) as? [String: Any] else { throw fail("not a YAML mapping") }
      root = parsed
    } catch let error as FeastRepositoryError {
      throw error
    } catch {
      throw fail("not valid YAML: \(error)")
    }
    guard let project = root["project"] as? String, !project.isEmpty else { throw fail("missing 'project'") }
    guard project.utf8.allSatisfy({ ASCIIClass.isWordByte($0) }) else {
      throw fail("project '\(project)' may contain only letters, digits and underscores")
    }
    let version = (root["entity_key_serialization_version"] as? Int) ?? 3
    guard version >= 3 else {
      throw fail(
        "entity_key_serialization_version \(version) is not supported: featureserver reads version 3 keys (Feast's default since 0.50). Re-serialise the online store as Feast's 'entity reserialization' guide describes, then set it to 3"
      )
    }
    guard version == 3 else {
      throw fail("entity_key_serialization_version \(version) is newer than the 3 featureserver knows")
    }

    // registry: a path, or a mapping with `path` (and `registry_type`, which must be file).
    var registryValue: String
    var versioning = false
    switch root["registry"] {
    case let path as String: registryValue = path
    case let mapping as [String: Any]:
      guard let path = mapping["path"] as? String else { throw fail("registry has no 'path'") }
      if let type = mapping["registry_type"] as? String, type != "file" {
        throw fail(
          "registry_type '\(type)' is not supported: featureserver reads a registry file (registry_type: file)")
      }
      versioning = (mapping["enable_online_feature_view_versioning"] as? Bool) ?? false
      registryValue = path
    default: throw fail("missing 'registry'")
    }
    if versioning {
      throw fail(
        "registry.enable_online_feature_view_versioning is not supported: versioned views keep their rows under other names"
      )
    }
    if let scheme = registryValue.range(of: "://") {
      let name = registryValue[..<scheme.lowerBound]
      guard name == "file" else {
        throw fail(
          "registry '\(registryValue)' is remote (\(name)): featureserver reads a local registry file; copy it next to the repository"
        )
      }
      registryValue = String(registryValue[scheme.upperBound...])
    }
    let registryPath =
      registryValue.hasPrefix("/") ? registryValue : (directory as NSString).appendingPathComponent(registryValue)

    // online_store: type redis (the only store whose layout featureserver reads).
    guard let store = root["online_store"] as? [String: Any] else {
      throw fail("online_store is not set (Feast's default is sqlite): featureserver serves a Redis online store")
    }
    let type = (store["type"] as? String) ?? "sqlite"
    guard type == "redis" || type == "feast.infra.online_stores.redis.RedisOnlineStore" else {
      throw fail("online_store type '\(type)' is not supported: featureserver serves Feast's Redis online store")
    }
    let redisType = (store["redis_type"] as? String) ?? "redis"
    guard redisType == "redis" || redisType == "redis_cluster" else {
      throw fail(
        "online_store.redis_type '\(redisType)' is not supported: featureserver serves redis and redis_cluster")
    }
    let connection = (store["connection_string"] as? String) ?? "localhost:6379"
    let redisURL = try redisURL(fromConnectionString: connection, cluster: redisType == "redis_cluster") { fail($0) }
    var keyTTL: Int? = nil
    if let ttl = store["key_ttl_seconds"] {
      guard let seconds = ttl as? Int, seconds > 0, seconds <= Int(Int32.max) else {
        throw fail("online_store.key_ttl_seconds must be a positive number of seconds")
      }
      keyTTL = seconds
    }

    guard let registryData = FileManager.default.contents(atPath: registryPath) else {
      throw fail("cannot read the registry file \(registryPath) (run `feast apply` first)", registryPath)
    }
    let message: Feast_Core_Registry
    do {
      var options = BinaryDecodingOptions()
      options.messageDepthLimit = 64
      message = try Feast_Core_Registry(serializedBytes: registryData, options: options)
    } catch {
      throw fail("not a Feast registry (\(error))", registryPath)
    }
    let registry = try FeastRegistryBuilder.build(message, project: project, generation: generation) {
      fail($0, registryPath)
    }
    return FeastRepository(
      directory: directory, project: project, registryPath: registryPath, redisURL: redisURL, keyTTLSeconds: keyTTL,
      registry: registry)
  }

  /// Feast's `host:port[,host:port...][,name=value...]` as `redis://[user:password@]host:port/db`,
  /// or for a cluster (whose hosts are seed nodes) `redis+cluster://[user:password@]host:port,...`.
  static func redisURL(
    fromConnectionString text: String, cluster: Bool = false, fail: (String) -> FeastRepositoryError
  ) throws -> String {
    var hosts: [String] = []
    var parameters: [String: String] = [:]
    for part in text.split(separator: ",", omittingEmptySubsequences: true) {
      let part = part.trimmingCharacters(in: .whitespaces)
      if let equals = part.firstIndex(of: "=") {
        parameters[String(part[..<equals]).lowercased()] = String(part[part.index(after: equals)...])
      } else {
        hosts.append(part.contains(":") ? part : part + ":6379")
      }
    }
    guard !hosts.isEmpty, !hosts.contains(where: \.isEmpty) else {
      throw fail("online_store.connection_string has no host:port")
    }
    guard cluster || hosts.count == 1 else {
      throw fail(
        "online_store.connection_string names several servers; with redis_type: redis featureserver connects to one")
    }
    if let ssl = parameters["ssl"], ssl.lowercased() == "true" {
      throw fail("online_store.connection_string asks for ssl=true: featureserver talks to Redis without TLS")
    }
    var credentials = ""
    if let password = parameters["password"] {
      let user = parameters["username"].map(percentEncoded) ?? ""
      credentials = "\(user):\(percentEncoded(password))@"
    }
    if cluster {
      // skip_full_coverage_check and the like tune redis-py's client; a cluster has only db 0.
      return "redis+cluster://\(credentials)\(hosts.joined(separator: ","))"
    }
    var url = "redis://\(credentials)\(hosts[0])"
    if let db = parameters["db"] {
      guard let number = Int(db), number >= 0 else { throw fail("online_store.connection_string: db must be a number") }
      url += "/\(number)"
    }
    return url
  }

  private static func percentEncoded(_ text: String) -> String {
    var allowed = CharacterSet.alphanumerics
    allowed.insert(charactersIn: "-._~")
    return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
  }

  /// Python's `os.path.expandvars`: `$NAME` and `${NAME}` become the variable's value when it is
  /// set, and stay as they are when not.
  static func expandVariables(_ text: String, environment: [String: String]) -> String {
    var output = ""
    var index = text.startIndex
    while index < text.endIndex {
      let character = text[index]
      guard character == "$" else {
        output.append(character)
        index = text.index(after: index)
        continue
      }
      let next = text.index(after: index)
      var nameStart = next
      var braced = false
      if next < text.endIndex && text[next] == "{" {
        braced = true
        nameStart = text.index(after: next)
      }
      var nameEnd = nameStart
      while nameEnd < text.endIndex, text[nameEnd].isASCII,
        text[nameEnd].isLetter || text[nameEnd].isNumber || text[nameEnd] == "_"
      {
        nameEnd = text.index(after: nameEnd)
      }
      let name = String(text[nameStart..<nameEnd])
      let closes = !braced || (nameEnd < text.endIndex && text[nameEnd] == "}")
      if !name.isEmpty, closes, let value = environment[name] {
        output += value
        index = braced ? text.index(after: nameEnd) : nameEnd
      } else {
        output.append(character)
        index = next
      }
    }
    return output
  }
}

/// Byte classes for names in feature_store.yaml.
enum ASCIIClass {
  static func isWordByte(_ byte: UInt8) -> Bool {
    (byte >= 48 && byte <= 57) || (byte >= 65 && byte <= 90) || (byte >= 97 && byte <= 122) || byte == 95
  }
}
