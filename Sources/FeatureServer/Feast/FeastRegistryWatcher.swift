import Foundation
import Logging
import Reactor
import Synchronization

/// Re-reads the Feast repository when its registry file changes, as `feast serve` re-reads its
/// registry: after a `feast apply`, new feature views and services are served without a restart.
/// One loop looks at the file's size and modification time every `interval` seconds; the read
/// itself runs off the loops. A repository that cannot be read, or that now names another
/// project or Redis, is refused (logged, counted) and the one being served is kept.
public final class FeastRegistryWatcher: Sendable {
  private let service: FeatureService
  private let loop: EventLoop
  private let intervalNanoseconds: UInt64
  private let logger = Logger(label: "featureserver.feast")
  /// What the file looked like at the last read; the generation of the next read; whether a
  /// read is under way.
  private let state: Mutex<(signature: [Int64]?, generation: UInt16, reading: Bool)>

  /// Starts looking at once (call after the service serves).
  public init(service: FeatureService, loop: EventLoop, interval: Double) {
    self.service = service
    self.loop = loop
    // Validated by FeastConfiguration; clamped here too, so no value can trap the conversion.
    intervalNanoseconds = UInt64(
      (interval.isFinite ? min(max(0.05, interval), ConfigurationError.maxSeconds) : 10) * 1e9)
    let path = service.feast?.repository.registryPath ?? ""
    state = Mutex((Self.signature(of: path), 1, false))
    _ = loop.execute { [self] in scheduleCheck() }
  }

  private func scheduleCheck() {
    loop.schedule(afterNanoseconds: intervalNanoseconds) { [self] in
      check()
      scheduleCheck()
    }
  }

  private func check() {
    guard let path = service.feast?.repository.registryPath else { return }
    let now = Self.signature(of: path)
    let start = state.withLock { state -> Bool in
      guard !state.reading, now != nil, now != state.signature else { return false }
      state.reading = true
      return true
    }
    guard start else { return }
    DispatchQueue.global().async { [self] in
      reload()
      state.withLock { $0.reading = false }
    }
  }

  /// Reads the repository again now and serves it if it can (the timer calls this when the file
  /// changed). Returns whether the new registry is served.
  @discardableResult
  public func reload() -> Bool {
    guard let current = service.feast else { return false }
    let path = current.repository.registryPath
    // The file as read now: a registry that cannot be served is not read again until it changes.
    let generation = state.withLock { state in
      state.signature = Self.signature(of: path)
      defer { state.generation &+= 1 }
      return state.generation
    }
    do {
      let repository = try FeastRepository.load(directory: current.repository.directory, generation: generation)
      guard repository.project == current.repository.project, repository.redisURL == current.repository.redisURL else {
        throw FeastRepositoryError(
          file: repository.directory,
          reason:
            "the project or the online store changed; restart featureserver to serve it (still serving project \(current.repository.project))"
        )
      }
      service.replaceFeast(FeastServing(repository: repository, configuration: current.configuration))
      service.feastReloads.withLock { $0[0] += 1 }
      logger.notice(
        "Feast registry re-read",
        metadata: [
          "registry": "\(path)", "feature_views": "\(repository.registry.views.map(\.name).joined(separator: ","))",
          "feature_services": "\(repository.registry.services.keys.sorted().joined(separator: ","))",
        ])
      return true
    } catch {
      service.feastReloads.withLock { $0[1] += 1 }
      logger.error(
        "Feast registry changed but cannot be served; keeping the one served", metadata: ["error": "\(error)"])
      return false
    }
  }

  /// Size, modification time (ns) and inode of a file; nil when it cannot be read.
  static func signature(of path: String) -> [Int64]? {
    var info = stat()
    guard stat(path, &info) == 0 else { return nil }
    return [
      Int64(info.st_size), Int64(info.st_mtim.tv_sec), Int64(info.st_mtim.tv_nsec),
      Int64(bitPattern: UInt64(info.st_ino)),
    ]
  }
}
