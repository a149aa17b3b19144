import ArgumentParser
import Foundation
import Hummingbird
import MagpieHub

/// `magpie serve`: the model-sharing hub (MagpieHub) as a web server.
struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the Magpie Hub web server (model sharing, search, downloads).",
        discussion: """
            Data lives in --data (an SQLite file and a content-addressed store of .tflite files) unless --database \
            or --blobs say otherwise. Bind to 127.0.0.1 unless a TLS proxy sits in front; with https, pass \
            --secure-cookies.

            Examples:
              magpie serve
              magpie serve --data /var/lib/magpie --port 9000
              magpie serve --database sqlite:/srv/hub.sqlite --blobs file:/srv/blobs --preload models/
            """)

    @Option(help: "Data directory (default home of the database and the blobs).")
    var data = "hub-data"

    @Option(help: "Address to bind.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on (0 picks a free one; the chosen port is printed).")
    var port = 8080

    @Option(help: "Database: sqlite:PATH or postgres://USER:PASSWORD@HOST:PORT/DB.")
    var database: String?

    @Option(help: "Blob store: file:DIR or s3://BUCKET/PREFIX.")
    var blobs: String?

    @Option(help: "Directory of .tflite files imported as preset models of the user 'magpie'.")
    var preload: String?

    @Option(help: "Largest model upload in MiB.")
    var maxUploadMib = 256

    @Option(help: "Worker threads running \"Try it\" previews (default: the active cores).")
    var previewWorkers: Int?

    @Option(help: "Previews that may wait for a worker before the server answers 503 with Retry-After.")
    var previewQueue = 8

    @Option(help: "Largest preview image in MiB.")
    var maxPreviewMib = 10

    @Flag(help: "Do not import the built-in MobileNetV2 (pseudo-random weights) as preset models.")
    var noBuiltinPresets = false

    @Flag(help: "Mark cookies Secure (the hub is served over https).")
    var secureCookies = false

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0...65535") }
        guard maxUploadMib >= 1 else { throw ValidationError("--max-upload-mib must be at least 1") }
        guard maxPreviewMib >= 1 else { throw ValidationError("--max-preview-mib must be at least 1") }
        guard previewQueue >= 0 else { throw ValidationError("--preview-queue must be at least 0") }
        if let previewWorkers, previewWorkers < 1 { throw ValidationError("--preview-workers must be at least 1") }
        if let database { _ = try parse { try HubConfiguration.parseDatabase(database) } }
        if let blobs { _ = try parse { try HubConfiguration.parseBlobs(blobs) } }
    }

    private func parse<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as ConfigurationError { throw ValidationError(e.description) }
    }

    func run() throws {
        var configuration = HubConfiguration(
            dataDirectory: data, host: host, port: port,
            database: try database.map(HubConfiguration.parseDatabase), blobs: try blobs.map(HubConfiguration.parseBlobs),
            maxUploadSize: Int64(maxUploadMib) << 20, secureCookies: secureCookies, preloadDirectory: preload)
        if let previewWorkers { configuration.previewWorkers = previewWorkers }
        configuration.previewQueueBound = previewQueue
        configuration.maxPreviewImageSize = maxPreviewMib << 20
        configuration.builtinPresets = !noBuiltinPresets
        let hub = configuration
        try blockingRun {
            do {
                let service = try await makeHubService(hub)
                let app = buildApplication(service: service, onServerRunning: { port in
                    // Unbuffered, so a parent process reading the pipe sees it at once.
                    FileHandle.standardOutput.write(Data("magpie hub listening on http://\(hub.host):\(port)\n".utf8))
                })
                try await app.runService()
            } catch let e as ConfigurationError {
                throw CommandFailure(e.description)
            }
        }
    }
}

/// Runs async work from a synchronous command and waits for it (the root command is synchronous).
func blockingRun(_ body: @escaping @Sendable () async throws -> Void) throws {
    final class Outcome: @unchecked Sendable {
        var error: (any Error)?
    }
    let outcome = Outcome()
    let done = DispatchSemaphore(value: 0)
    Task {
        do { try await body() } catch { outcome.error = error }
        done.signal()
    }
    done.wait()
    if let error = outcome.error { throw error }
}
