import Foundation
import MagpieModel
import MagpieVision
import MagpieZoo
import NIOPosix

/// Preset models of the system user `magpie`: files from `magpie serve --preload DIR` and the built-in
/// MobileNetV2 (MagpieZoo). Importing is idempotent: a file whose SHA-256 is already a version of its model is
/// skipped.
public enum Presets {
    /// The owner of preset models. Nobody can sign in as it: its password is a random secret thrown away.
    public static let ownerName = "magpie"

    /// The built-in models imported at startup: MobileNetV2 1.0/224 in float32 and uint8.
    public static let builtinNames = ["mobilenet_v2_1.0_224", "mobilenet_v2_1.0_224_quant"]

    /// Imports every `.tflite` in `directory` as a public preset model named after the file (lowercased, other
    /// characters as `-`). Labels come from the model's metadata, else from `<name>.txt` beside it, else from
    /// `labels.txt` in the directory. Files the engine cannot run are skipped.
    /// - Returns: how many new versions were added.
    public static func importModels(from directory: String, into service: HubService) async throws -> Int {
        let files = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".tflite") }.sorted()
        guard !files.isEmpty else { return 0 }
        let shared = labelFile("\(directory)/labels.txt")
        var imported = 0
        for file in files {
            let stem = String(file.dropLast(".tflite".count))
            let name = String(stem.lowercased().map { $0.isLetter || $0.isNumber || "-_.".contains($0) ? $0 : "-" })
            guard Names.isValid(name) else { continue }
            let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: "\(directory)/\(file)")))
            let labels = labelFile("\(directory)/\(stem).txt") ?? shared
            let description = "Preset model `\(file)`" + (labels == nil ? "." : ", with a label file beside it.")
            if try await importPreset(bytes: bytes, name: name, description: description, tags: ["preset"],
                                      labels: labels, into: service) {
                imported += 1
            }
        }
        return imported
    }

    /// Imports the built-in MobileNetV2 variants (`builtinNames`) that are not there yet. A model that already has
    /// a version is left alone without building it again (building the uint8 variant calibrates it).
    /// - Parameters:
    ///   - names: which catalogue entries (default `builtinNames`).
    /// - Returns: how many new versions were added.
    public static func importBuiltinModels(into service: HubService, names: [String] = builtinNames) async throws -> Int {
        var imported = 0
        for name in names {
            if let existing = try await service.store.model(owner: ownerName, name: name), existing.latestVersion != nil {
                continue
            }
            guard let entry = BuiltinModels.catalog.first(where: { $0.name == name }) else { continue }
            let bytes = try await NIOThreadPool.singleton.runIfActive { try BuiltinModels.model(named: name) }
            let description = """
                **The weights are NOT pretrained.** \(entry.summary), built by Magpie (MagpieZoo) with deterministic \
                pseudo-random weights so that a fresh hub has a model to try and benchmark: its predictions are \
                meaningless. The architecture, size, operators and speed are those of the real model.
                """
            if try await importPreset(bytes: bytes, name: name, description: description,
                                      tags: ["preset", "builtin", "not-pretrained"],
                                      labels: (0..<1001).map { "class \($0)" }, into: service) {
                imported += 1
            }
        }
        return imported
    }

    /// Stores `bytes` as a version of `magpie/name` (creating the user and the model when missing) unless a version
    /// with the same SHA-256 exists.
    /// - Parameters:
    ///   - labels: used when the model's metadata has none.
    /// - Returns: whether a version was added; false also for a file the engine refuses.
    static func importPreset(bytes: [UInt8], name: String, description: String, tags: [String], labels: [String]?,
                             into service: HubService) async throws -> Bool {
        let store = service.store
        let owner: User
        if let existing = try await store.user(named: ownerName) {
            owner = existing
        } else {
            do {
                owner = try await store.createUser(name: ownerName,
                                                   passwordHash: try await service.passwords.hash(Secrets.randomHex()))
            } catch StoreError.conflict {
                guard let existing = try await store.user(named: ownerName) else { return false }
                owner = existing
            }
        }
        let stored: (facts: ModelFacts, digest: String)
        do {
            stored = try await NIOThreadPool.singleton.runIfActive {
                let upload = try service.blobs.beginUpload()
                do {
                    try bytes.withUnsafeBytes { try upload.write($0) }
                    try upload.finish()
                    var facts = try ModelInspection.inspect(path: upload.temporaryPath, size: upload.size)
                    if facts.labels == nil { facts.labels = labels }
                    return (facts, try service.blobs.commit(upload))
                } catch {
                    upload.discard()
                    throw error
                }
            }
        } catch is ModelRejection {
            return false  // not a model this engine runs
        }
        let (facts, digest) = stored
        var model = try await store.model(owner: ownerName, name: name)
        if model == nil {
            model = try await store.createModel(ownerID: owner.id, name: name,
                                                card: ModelCard(description: facts.metadataDescription.map { "\(description)\n\n\($0)" } ?? description,
                                                                task: task(of: facts), tags: tags))
        }
        guard let model else { return false }
        if try await store.versions(modelID: model.id).contains(where: { $0.sha256 == digest }) { return false }
        _ = try await store.addVersion(NewVersion(modelID: model.id, sha256: digest, size: Int64(bytes.count), facts: facts))
        return true
    }

    /// `image-classification` for an output 0 of rank 1-2, `image-segmentation` for rank 3-4, else nil.
    static func task(of facts: ModelFacts) -> String? {
        switch facts.outputs.first?.shape.count {
        case 1, 2: "image-classification"
        case 3, 4: "image-segmentation"
        default: nil
        }
    }

    /// The labels of a text file (one per line), nil when absent or empty.
    static func labelFile(_ path: String) -> [String]? {
        guard FileManager.default.fileExists(atPath: path), let labels = try? Labels.load(contentsOfFile: path),
              !labels.isEmpty else { return nil }
        return labels
    }
}
