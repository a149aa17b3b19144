import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import NIOCore

/// JSON shapes of the API (documented in docs/openapi.yaml). Dates are ISO 8601.
enum API {
    struct UserOut: Codable, Sendable {
        var name: String
        var createdAt: Date
        init(_ u: User) { name = u.name; createdAt = u.createdAt }
    }

    struct SignUpIn: Codable, Sendable {
        var name: String
        var password: String
    }

    /// `POST /api/tokens`: with a session or token, `label` alone; otherwise `name` and `password` too.
    struct TokenIn: Codable, Sendable {
        var name: String?
        var password: String?
        var label: String?
    }

    struct TokenOut: Codable, Sendable {
        var id: Int64
        var label: String
        var createdAt: Date
        /// Present only in the answer that created it.
        var token: String?
        init(_ t: APIToken, secret: String? = nil) { id = t.id; label = t.label; createdAt = t.createdAt; token = secret }
    }

    struct CardIn: Codable, Sendable {
        var description: String?
        var task: String?
        var tags: [String]?
        var license: String?
        var visibility: Visibility?

        var card: ModelCard {
            ModelCard(description: description ?? "", task: task.flatMap { $0.isEmpty ? nil : $0 }, tags: tags ?? [],
                      license: license.flatMap { $0.isEmpty ? nil : $0 }, visibility: visibility ?? .public)
        }
    }

    struct ModelOut: Codable, Sendable {
        var owner: String
        var name: String
        var description: String
        var task: String?
        var tags: [String]
        var license: String?
        var visibility: Visibility
        var latestVersion: Int?
        var downloads: Int64
        var likes: Int64
        var createdAt: Date
        var updatedAt: Date
        init(_ m: ModelRecord) {
            owner = m.ownerName; name = m.name; description = m.card.description; task = m.card.task
            tags = m.card.tags; license = m.card.license; visibility = m.card.visibility
            latestVersion = m.latestVersion; downloads = m.downloads; likes = m.likes
            createdAt = m.createdAt; updatedAt = m.updatedAt
        }
    }

    struct VersionOut: Codable, Sendable {
        var number: Int
        var sha256: String
        var size: Int64
        var createdAt: Date
        var downloads: Int64
        var facts: ModelFacts
        var downloadURL: String
        init(_ v: VersionRecord, model: ModelRecord) {
            number = v.number; sha256 = v.sha256; size = v.size; createdAt = v.createdAt; downloads = v.downloads
            facts = v.facts
            downloadURL = "/api/models/\(model.ownerName)/\(model.name)/versions/\(v.number)/file"
        }
    }

    struct ModelDetailOut: Codable, Sendable {
        var model: ModelOut
        var versions: [VersionOut]
        var liked: Bool?
        var subscribed: Bool?
    }

    struct PublishOut: Codable, Sendable {
        var model: ModelOut
        var version: VersionOut
    }

    struct SearchOut: Codable, Sendable {
        var models: [ModelOut]
        var total: Int
        var page: Int
        var perPage: Int
    }

    struct FeedItemOut: Codable, Sendable {
        var model: ModelOut
        var version: VersionOut
    }

    struct FeedOut: Codable, Sendable {
        var items: [FeedItemOut]
    }

    struct StateOut: Codable, Sendable {
        var liked: Bool?
        var subscribed: Bool?
        var likes: Int64?
    }

    struct BenchmarkOut: Codable, Sendable {
        var device: String
        var runtime: String
        var threads: Int
        var fps: Double
        var medianMs: Double?
        var fpsPerWatt: Double?
        var version: Int?
        var createdAt: Date
        init(_ b: BenchmarkRecord) {
            device = b.device; runtime = b.runtime; threads = b.threads; fps = b.fps; medianMs = b.medianMs
            fpsPerWatt = b.fpsPerWatt
            version = b.versionNumber; createdAt = b.createdAt
        }
    }

    struct BenchmarksOut: Codable, Sendable {
        var results: [BenchmarkOut]
    }

    struct LeaderboardEntryOut: Codable, Sendable {
        var model: ModelOut
        var best: BenchmarkOut
    }

    struct LeaderboardOut: Codable, Sendable {
        var device: String?
        var entries: [LeaderboardEntryOut]
    }

    /// The part of a `magpie-bench/1` document the hub keeps (see MagpieBench's `BenchDocument`).
    struct BenchDocumentIn: Decodable, Sendable {
        struct Runtime: Decodable, Sendable {
            var name: String
            var version: String?
            var configuration: String?
        }
        struct Latency: Decodable, Sendable { var medianMs: Double? }
        struct Fingerprint: Decodable, Sendable {
            var name: String?
            var cpuModel: String?
            var architecture: String?
        }
        struct Energy: Decodable, Sendable {
            var fpsPerWatt: Double?
        }
        struct Result: Decodable, Sendable {
            var runtime: Runtime
            var threads: Int
            var fps: Double
            var latency: Latency?
            var energy: Energy?
            var fingerprint: Fingerprint
        }
        var schema: String
        var results: [Result]
    }

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        e.dateEncodingStrategy = .iso8601
        return e
    }()

    static let decoder: JSONDecoder = {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .iso8601
        return d
    }()

    /// A JSON response.
    static func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) throws -> Response {
        var fields = headers
        fields[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: fields,
                        body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
    }

    /// Decodes a JSON body of at most `limit` bytes.
    static func decode<T: Decodable>(_ type: T.Type, from request: Request, limit: Int = 1 << 20) async throws -> T {
        var request = request
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: limit)
        } catch {
            throw Problem(.contentTooLarge, detail: "the JSON body is limited to \(limit) bytes")
        }
        return try decoder.decode(T.self, from: Data(buffer.readableBytesView))
    }
}
