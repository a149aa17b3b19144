import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore

/// Opens the storage a configuration names, applies migrations, recovers the blob store after a crash and imports
/// preset models.
/// - Throws: `ConfigurationError` for a backend this build cannot use, `StoreError`/`BlobError` when storage fails.
public func makeHubService(_ configuration: HubConfiguration, logger: Logger = Logger(label: "magpie-hub")) async throws -> HubService {
    try FileManager.default.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true)
    let store: any HubStore
    switch configuration.database {
    case let .sqlite(path):
        let parent = (path as NSString).deletingLastPathComponent
        if !parent.isEmpty { try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true) }
        store = try SQLiteStore(path: path)
    case let .postgres(url):
        store = try PostgresStore(url: url, logger: logger)
    }
    try await store.migrate()
    let blobs: FileBlobStore
    switch configuration.blobs {
    case let .file(directory):
        blobs = try FileBlobStore(root: directory, maxUploadSize: configuration.maxUploadSize)
    case .s3:
        throw ConfigurationError("S3 blob storage is not available in this build yet; use --blobs file:DIR")
    }
    let service = HubService(store: store, blobs: blobs, configuration: configuration)
    let report = try await service.recover()
    if report.temporaryFilesRemoved > 0 || report.orphanBlobsRemoved > 0 {
        logger.notice("recovered the blob store", metadata: [
            "temporaryFilesRemoved": "\(report.temporaryFilesRemoved)", "orphanBlobsRemoved": "\(report.orphanBlobsRemoved)",
        ])
    }
    if let directory = configuration.preloadDirectory {
        let imported = try await Presets.importModels(from: directory, into: service)
        logger.info("preset models", metadata: ["imported": "\(imported)"])
    }
    if configuration.builtinPresets {
        // Building the quantized variant calibrates it (seconds): done in the background so the server starts at
        // once; the models appear when ready.
        Task.detached(priority: .utility) {
            do {
                let imported = try await Presets.importBuiltinModels(into: service)
                logger.info("built-in preset models", metadata: ["imported": "\(imported)"])
            } catch {
                logger.error("built-in preset models failed", metadata: ["error": "\(error)"])
            }
        }
    }
    return service
}

/// Builds the hub's Hummingbird application from a configuration: `magpie serve` runs it, tests drive it with
/// `app.test(.router)` or `.live`.
///
/// ```swift
/// let app = try await buildApplication(HubConfiguration(dataDirectory: "hub-data", port: 8080))
/// try await app.runService()
/// ```
public func buildApplication(_ configuration: HubConfiguration,
                             logger: Logger = Logger(label: "magpie-hub")) async throws -> some ApplicationProtocol {
    buildApplication(service: try await makeHubService(configuration, logger: logger), logger: logger)
}

/// Builds the application around an existing service (tests share one service between apps).
/// - Parameters:
///   - onServerRunning: called with the bound port once the server listens (useful with port 0).
public func buildApplication(service: HubService, logger: Logger = Logger(label: "magpie-hub"),
                             onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
    let router = makeRouter(service: service)
    let c = service.configuration
    return Application(router: router,
                       configuration: .init(address: .hostname(c.host, port: c.port), serverName: "magpie-hub"),
                       onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? c.port) },
                       logger: logger)
}

/// The router with every route and middleware.
func makeRouter(service: HubService) -> Router<HubRequestContext> {
    let router = Router(context: HubRequestContext.self)
    router.add(middleware: ProblemMiddleware())
    router.add(middleware: SecurityMiddleware(service: service))
    router.get("openapi.yaml") { _, _ in
        Response(status: .ok, headers: [.contentType: "application/yaml; charset=utf-8"],
                 body: .init(byteBuffer: ByteBuffer(string: OpenAPIDocument.yaml)))
    }
    router.get("health") { _, _ in "ok" }
    APIRoutes(service: service).add(to: router)
    PageRoutes(service: service).add(to: router)
    return router
}
