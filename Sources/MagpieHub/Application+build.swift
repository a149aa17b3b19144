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
        let imported = try await Preload.importModels(from: directory, into: service)
        logger.info("preset models", metadata: ["imported": "\(imported)"])
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

/// `magpie serve --preload DIR`: imports every `.tflite` in a directory as a public model of the user `magpie`.
enum Preload {
    static let ownerName = "magpie"

    /// - Returns: how many new versions were added (files already present by hash are skipped).
    static func importModels(from directory: String, into service: HubService) async throws -> Int {
        let files = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".tflite") }.sorted()
        guard !files.isEmpty else { return 0 }
        let store = service.store
        var owner = try await store.user(named: ownerName)
        if owner == nil {
            // Nobody can sign in as the preset owner: its password is a random secret that is thrown away.
            owner = try await store.createUser(name: ownerName, passwordHash: try await service.passwords.hash(Secrets.randomHex()))
        }
        guard let owner else { return 0 }
        var imported = 0
        for file in files {
            let name = String(file.dropLast(".tflite".count).lowercased().map { $0.isLetter || $0.isNumber || "-_.".contains($0) ? $0 : "-" })
            guard Names.isValid(name) else { continue }
            let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: "\(directory)/\(file)")))
            let facts: ModelFacts
            let digest: String
            do {
                let upload = try service.blobs.beginUpload()
                do {
                    try bytes.withUnsafeBytes { try upload.write($0) }
                    try upload.finish()
                    facts = try ModelInspection.inspect(path: upload.temporaryPath, size: upload.size)
                    digest = try service.blobs.commit(upload)
                } catch {
                    upload.discard()
                    throw error
                }
            } catch {
                continue  // not a model this engine runs: skipped
            }
            var model = try await store.model(owner: ownerName, name: name)
            if model == nil {
                model = try await store.createModel(ownerID: owner.id, name: name, card: ModelCard(
                    description: facts.metadataDescription ?? "Preset model `\(file)`.", tags: ["preset"]))
            }
            guard let model else { continue }
            if try await store.versions(modelID: model.id).contains(where: { $0.sha256 == digest }) { continue }
            _ = try await store.addVersion(NewVersion(modelID: model.id, sha256: digest, size: Int64(bytes.count), facts: facts))
            imported += 1
        }
        return imported
    }
}
