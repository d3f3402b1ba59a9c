import Foundation
import Reactor

/// `http://host:port` resolved to a numeric address.
public struct LoadTarget: Sendable {
  public let address: String
  public let port: Int
  public let hostHeader: String

  /// Errors (`ScenarioError`) name the flag and what is wrong.
  public init(url: String) throws {
    guard let components = URLComponents(string: url), components.scheme == "http", let host = components.host,
      !host.isEmpty
    else {
      throw ScenarioError("--host must be http://host[:port] (https is not supported), got '\(url)'")
    }
    port = components.port ?? 80
    hostHeader = components.port.map { "\(host):\($0)" } ?? host
    do {
      address = try HostResolution.numericAddress(of: host, preferIPv4: true)
    } catch {
      throw ScenarioError("--host: \(error)")
    }
  }
}
