import Foundation

/// A registered account.
public struct User: Sendable, Equatable, Codable {
    public var id: Int64
    /// The account name, also the owner segment of model names (`owner/name`). Validated by `Names.validateOwner`.
    public var name: String
    /// The bcrypt hash of the password; never sent to clients.
    public var passwordHash: String
    public var createdAt: Date

    public init(id: Int64, name: String, passwordHash: String, createdAt: Date) {
        self.id = id
        self.name = name
        self.passwordHash = passwordHash
        self.createdAt = createdAt
    }
}

/// A browser session. The cookie holds a random secret; the database keeps only its SHA-256.
public struct Session: Sendable, Equatable {
    /// Hex SHA-256 of the cookie value.
    public var tokenHash: String
    public var userID: Int64
    /// The synchronizer CSRF token bound to this session (sent in forms and the `X-CSRF-Token` header).
    public var csrfToken: String
    public var createdAt: Date
    public var expiresAt: Date

    public init(tokenHash: String, userID: Int64, csrfToken: String, createdAt: Date, expiresAt: Date) {
        self.tokenHash = tokenHash
        self.userID = userID
        self.csrfToken = csrfToken
        self.createdAt = createdAt
        self.expiresAt = expiresAt
    }
}

/// A personal API token for the command line (`Authorization: Bearer`). Only the SHA-256 of the secret is stored.
public struct APIToken: Sendable, Equatable {
    public var id: Int64
    public var userID: Int64
    /// A label the user chose ("laptop", "ci").
    public var label: String
    public var tokenHash: String
    public var createdAt: Date

    public init(id: Int64, userID: Int64, label: String, tokenHash: String, createdAt: Date) {
        self.id = id
        self.userID = userID
        self.label = label
        self.tokenHash = tokenHash
        self.createdAt = createdAt
    }
}

/// Who may see a model.
public enum Visibility: String, Sendable, Codable, CaseIterable {
    case `public`, `private`
}

/// The editable description of a model: what its page shows above the facts.
public struct ModelCard: Sendable, Equatable, Codable {
    /// Markdown; rendered with every HTML character escaped (`Markdown.render`).
    public var description: String
    /// `image-classification`, `image-segmentation`, `object-detection`, ... (free text, validated as a name).
    public var task: String?
    public var tags: [String]
    /// SPDX identifier or free text.
    public var license: String?
    public var visibility: Visibility

    public init(description: String = "", task: String? = nil, tags: [String] = [], license: String? = nil,
                visibility: Visibility = .public) {
        self.description = description
        self.task = task
        self.tags = tags
        self.license = license
        self.visibility = visibility
    }
}

/// A model: `owner/name`, its card and counters. Versions are separate, immutable rows.
public struct ModelRecord: Sendable, Equatable {
    public var id: Int64
    public var ownerID: Int64
    public var ownerName: String
    public var name: String
    public var card: ModelCard
    public var createdAt: Date
    public var updatedAt: Date
    /// The highest version number, nil before the first upload.
    public var latestVersion: Int?
    public var downloads: Int64
    public var likes: Int64

    public var fullName: String { "\(ownerName)/\(name)" }

    public init(id: Int64, ownerID: Int64, ownerName: String, name: String, card: ModelCard, createdAt: Date,
                updatedAt: Date, latestVersion: Int?, downloads: Int64, likes: Int64) {
        self.id = id
        self.ownerID = ownerID
        self.ownerName = ownerName
        self.name = name
        self.card = card
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.latestVersion = latestVersion
        self.downloads = downloads
        self.likes = likes
    }
}

/// One immutable upload of a model: one .tflite file, addressed by its SHA-256.
public struct VersionRecord: Sendable, Equatable {
    public var id: Int64
    public var modelID: Int64
    /// 1, 2, 3 ... per model, assigned at commit.
    public var number: Int
    /// Lowercase hex SHA-256 of the file; the blob store's address.
    public var sha256: String
    public var size: Int64
    /// What the engine found in the file at upload.
    public var facts: ModelFacts
    public var createdAt: Date
    public var downloads: Int64

    public init(id: Int64, modelID: Int64, number: Int, sha256: String, size: Int64, facts: ModelFacts,
                createdAt: Date, downloads: Int64) {
        self.id = id
        self.modelID = modelID
        self.number = number
        self.sha256 = sha256
        self.size = size
        self.facts = facts
        self.createdAt = createdAt
        self.downloads = downloads
    }
}

/// What the engine reads out of a model file at upload; stored as JSON beside the version.
public struct ModelFacts: Sendable, Equatable, Codable {
    /// One input or output tensor.
    public struct TensorFacts: Sendable, Equatable, Codable {
        public var name: String
        public var dtype: String
        public var shape: [Int]
        /// Per-tensor scale and zero point, or the first of per-channel ones (`perChannel` > 1).
        public var scale: Float?
        public var zeroPoint: Int64?
        public var perChannel: Int?

        public init(name: String, dtype: String, shape: [Int], scale: Float? = nil, zeroPoint: Int64? = nil,
                    perChannel: Int? = nil) {
            self.name = name
            self.dtype = dtype
            self.shape = shape
            self.scale = scale
            self.zeroPoint = zeroPoint
            self.perChannel = perChannel
        }
    }

    public var inputs: [TensorFacts]
    public var outputs: [TensorFacts]
    /// `float32`, `float16`, `uint8` or `int8`: the type that holds most of the weights.
    public var precision: String
    /// Operator name -> count, e.g. `CONV_2D: 35`.
    public var operators: [String: Int]
    /// Weight and bias elements (MagpieModel's `ModelStatistics`, every subgraph), when known.
    public var parameters: Int64?
    /// Multiply-accumulates for one inference, when known.
    public var multiplyAccumulates: Int64?
    public var sizeBytes: Int64
    /// Labels of output 0 from the model's TFLite metadata.
    public var labels: [String]?
    /// The metadata's name/description/author/license, when present.
    public var metadataName: String?
    public var metadataDescription: String?

    public init(inputs: [TensorFacts], outputs: [TensorFacts], precision: String, operators: [String: Int],
                parameters: Int64?, multiplyAccumulates: Int64?, sizeBytes: Int64, labels: [String]?,
                metadataName: String? = nil, metadataDescription: String? = nil) {
        self.inputs = inputs
        self.outputs = outputs
        self.precision = precision
        self.operators = operators
        self.parameters = parameters
        self.multiplyAccumulates = multiplyAccumulates
        self.sizeBytes = sizeBytes
        self.labels = labels
        self.metadataName = metadataName
        self.metadataDescription = metadataDescription
    }
}

/// One benchmark measurement of a model version on a device (from a `magpie-bench/1` document).
public struct BenchmarkRecord: Sendable, Equatable {
    public var id: Int64
    public var modelID: Int64
    public var versionNumber: Int?
    public var submitterID: Int64
    /// The machine's fingerprint name or CPU model, e.g. `AMD EPYC 9R14 (x86_64)`.
    public var device: String
    /// `magpie/optimized`, `litert 2.3.0`...
    public var runtime: String
    public var threads: Int
    public var fps: Double
    public var medianMs: Double?
    /// Inferences per joule, when the run measured or declared power.
    public var fpsPerWatt: Double?
    public var createdAt: Date

    public init(id: Int64, modelID: Int64, versionNumber: Int?, submitterID: Int64, device: String, runtime: String,
                threads: Int, fps: Double, medianMs: Double?, fpsPerWatt: Double? = nil, createdAt: Date) {
        self.fpsPerWatt = fpsPerWatt
        self.id = id
        self.modelID = modelID
        self.versionNumber = versionNumber
        self.submitterID = submitterID
        self.device = device
        self.runtime = runtime
        self.threads = threads
        self.fps = fps
        self.medianMs = medianMs
        self.createdAt = createdAt
    }
}

/// What a user follows.
public enum SubscriptionTarget: Sendable, Equatable, Hashable {
    case model(Int64)
    case publisher(Int64)
}

/// One entry of a user's feed: a new version of a followed model or publisher.
public struct FeedItem: Sendable, Equatable {
    public var model: ModelRecord
    public var version: VersionRecord

    public init(model: ModelRecord, version: VersionRecord) {
        self.model = model
        self.version = version
    }
}

/// How search results are ordered.
public enum ModelSort: String, Sendable, CaseIterable, Codable {
    case downloads, likes, newest, fastest
}

/// A browse/search request. Empty fields do not filter.
public struct ModelQuery: Sendable, Equatable {
    /// Full-text words over owner, name, description and tags.
    public var text: String?
    public var task: String?
    public var tag: String?
    public var precision: String?
    /// The latest version uses this operator (e.g. `CONV_2D`).
    public var op: String?
    /// The latest version's file is at most this many bytes.
    public var maxSize: Int64?
    public var owner: String?
    public var sort: ModelSort
    /// For `.fastest`: the device name as stored by benchmark results.
    public var device: String?
    /// The viewer: private models of this user are included.
    public var viewerID: Int64?
    public var limit: Int
    public var offset: Int

    public init(text: String? = nil, task: String? = nil, tag: String? = nil, precision: String? = nil,
                op: String? = nil, maxSize: Int64? = nil, owner: String? = nil, sort: ModelSort = .newest,
                device: String? = nil, viewerID: Int64? = nil, limit: Int = 20, offset: Int = 0) {
        self.text = text
        self.task = task
        self.tag = tag
        self.precision = precision
        self.op = op
        self.maxSize = maxSize
        self.owner = owner
        self.sort = sort
        self.device = device
        self.viewerID = viewerID
        self.limit = limit
        self.offset = offset
    }
}

/// A page of search results.
public struct ModelPage: Sendable, Equatable {
    public var models: [ModelRecord]
    /// Matches in all, for pagination.
    public var total: Int

    public init(models: [ModelRecord], total: Int) {
        self.models = models
        self.total = total
    }
}

/// What a new version needs; the store assigns id, number and time.
public struct NewVersion: Sendable {
    public var modelID: Int64
    public var sha256: String
    public var size: Int64
    public var facts: ModelFacts

    public init(modelID: Int64, sha256: String, size: Int64, facts: ModelFacts) {
        self.modelID = modelID
        self.sha256 = sha256
        self.size = size
        self.facts = facts
    }
}
