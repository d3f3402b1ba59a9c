import Foundation
import XCTest

/// A real nginx (one worker, in the foreground) on a free loopback port that proxies every
/// request to an `upstream featureserver { ... }` block the test gives: featureserver replicas
/// behind a load balancer, as the README's "Scaling out" shows. Stopped by PID.
public final class NginxProcess {
  public let port: Int
  private let directory: String
  private let process = Process()

  public init(upstream: String) throws {
    guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/nginx") else { throw XCTSkip("nginx not installed") }
    port = try freeTCPPort()
    directory = NSTemporaryDirectory() + "featureserver-nginx-\(getpid())-\(port)"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    let configuration = """
      worker_processes 1;
      daemon off;
      pid \(directory)/nginx.pid;
      error_log \(directory)/error.log;
      events { worker_connections 1024; }
      http {
        access_log off;
        client_body_temp_path \(directory); proxy_temp_path \(directory); fastcgi_temp_path \(directory);
        uwsgi_temp_path \(directory); scgi_temp_path \(directory);
        \(upstream)
        server {
          listen 127.0.0.1:\(port);
          location / {
            proxy_pass http://featureserver;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_next_upstream error timeout http_503;
          }
        }
      }
      """
    try configuration.write(toFile: "\(directory)/nginx.conf", atomically: true, encoding: .utf8)
    process.executableURL = URL(fileURLWithPath: "/usr/sbin/nginx")
    process.arguments = ["-c", "\(directory)/nginx.conf", "-e", "\(directory)/error.log"]
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    guard waitUntil(timeout: 10, { (try? RawConnection(port: port, receiveTimeout: 1)) != nil }) != nil else {
      stop()
      throw NSError(domain: "nginx did not start on port \(port)", code: 1)
    }
  }

  deinit { stop() }

  public func stop() {
    guard process.isRunning else { return }
    kill(process.processIdentifier, SIGTERM)
    process.waitUntilExit()
    try? FileManager.default.removeItem(atPath: directory)
  }
}
