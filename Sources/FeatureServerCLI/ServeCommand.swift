import ArgumentParser
import HTTPCore

/// `featureserver serve`: runs the HTTP server until SIGTERM or SIGINT, then drains.
struct ServeCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "serve",
    abstract: "Run the feature server.",
    discussion: """
      Every flag can also be set as an environment variable FEATURESERVER_<FLAG>, e.g.
      FEATURESERVER_PORT=9000 or FEATURESERVER_MAX_BODY_BYTES=2048; a flag on the command line wins.
      """)

  @OptionGroup var http: HTTPOptions

  func run() throws {
    let router = Router()
    router.get("/health") { _, responder in
      responder.respond(HTTPResponse(contentType: "application/json", body: #"{"status":"ok"}"#))
    }
    let group = try EventLoopGroup(threads: http.threads)
    let server = HTTPServer(configuration: http.configuration, group: group, router: router)
    do {
      try ServerRunner.run(server: server, group: group) { port in
        writeDiagnostic("featureserver: listening on \(http.bind):\(port) with \(http.threads) loop(s)")
      }
    } catch {
      throw ValidationError("cannot serve on \(http.bind):\(http.port): \(error)")
    }
  }
}
