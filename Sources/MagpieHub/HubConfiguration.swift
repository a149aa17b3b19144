import Foundation

/// Everything `magpie serve` can set. Defaults suit a local server on 127.0.0.1:8080 keeping its data in `./hub-data`.
public struct HubConfiguration: Sendable {
    /// Where the database is.
    public enum DatabaseLocation: Sendable, Equatable {
        /// An SQLite file (created if missing).
        case sqlite(path: String)
        /// A PostgreSQL server, `postgres://user:password@host:port/database`.
        case postgres(url: String)
    }

    /// Where model files are.
    public enum BlobLocation: Sendable, Equatable {
        /// A directory on the local file system (content-addressed, see `FileBlobStore`).
        case file(directory: String)
        /// An S3-compatible bucket, `s3://bucket/prefix`.
        case s3(url: String)
    }

    public var host: String
    public var port: Int
    /// The data directory: default home of the SQLite file and the blob directory.
    public var dataDirectory: String
    public var database: DatabaseLocation
    public var blobs: BlobLocation
    /// The largest model file accepted, bytes (256 MiB).
    public var maxUploadSize: Int64
    /// Sets `Secure` on cookies; turn on when the hub is served over https (behind a TLS proxy).
    public var secureCookies: Bool
    /// bcrypt cost; 12 in production, lower only in tests.
    public var bcryptCost: UInt8
    /// Sign-in attempts per client address and user name before throttling, and seconds per regained attempt.
    public var signInBurst: Int
    public var signInRefillSeconds: Double
    /// How long a browser session lasts, seconds (30 days).
    public var sessionLifetime: TimeInterval
    /// Directory of .tflite files (with optional `NAME.txt` or `labels.txt` label files) imported at startup as
    /// preset models of `magpie`.
    public var preloadDirectory: String?
    /// Worker threads running "Try it" previews (default: the active cores).
    public var previewWorkers: Int = ProcessInfo.processInfo.activeProcessorCount
    /// Previews that may wait for a worker; beyond it the API answers 503 with Retry-After (default 8).
    public var previewQueueBound: Int = 8
    /// The largest image a preview accepts, bytes (10 MiB).
    public var maxPreviewImageSize: Int = 10 << 20
    /// Imports the built-in MobileNetV2 (float32 and uint8, pseudo-random weights) as presets at startup, in the
    /// background, when absent. `magpie serve` turns it on (`--no-builtin-presets` off); off by default here so
    /// tests do not pay for building them.
    public var builtinPresets: Bool = false

    /// Parses `--database` (`sqlite:PATH` or `postgres://...`).
    /// - Throws: `ConfigurationError` for any other form.
    public static func parseDatabase(_ text: String) throws -> DatabaseLocation {
        if text.hasPrefix("sqlite:") {
            let path = String(text.dropFirst("sqlite:".count))
            guard !path.isEmpty else { throw ConfigurationError("--database sqlite: needs a path, e.g. sqlite:hub.sqlite") }
            return .sqlite(path: path)
        }
        if text.hasPrefix("postgres://") || text.hasPrefix("postgresql://") { return .postgres(url: text) }
        throw ConfigurationError("--database must be sqlite:PATH or postgres://USER:PASSWORD@HOST:PORT/DB, not '\(text)'")
    }

    /// Parses `--blobs` (`file:DIR` or `s3://bucket/prefix`).
    public static func parseBlobs(_ text: String) throws -> BlobLocation {
        if text.hasPrefix("file:") {
            let path = String(text.dropFirst("file:".count))
            guard !path.isEmpty else { throw ConfigurationError("--blobs file: needs a directory, e.g. file:blobs") }
            return .file(directory: path)
        }
        if text.hasPrefix("s3://") { return .s3(url: text) }
        throw ConfigurationError("--blobs must be file:DIR or s3://BUCKET/PREFIX, not '\(text)'")
    }

    /// A configuration keeping everything under `dataDirectory`.
    public init(dataDirectory: String = "hub-data", host: String = "127.0.0.1", port: Int = 8080,
                database: DatabaseLocation? = nil, blobs: BlobLocation? = nil, maxUploadSize: Int64 = 256 << 20,
                secureCookies: Bool = false, bcryptCost: UInt8 = 12, signInBurst: Int = 5,
                signInRefillSeconds: Double = 12, sessionLifetime: TimeInterval = 30 * 86400,
                preloadDirectory: String? = nil) {
        self.host = host
        self.port = port
        self.dataDirectory = dataDirectory
        self.database = database ?? .sqlite(path: "\(dataDirectory)/hub.sqlite")
        self.blobs = blobs ?? .file(directory: "\(dataDirectory)/store")
        self.maxUploadSize = maxUploadSize
        self.secureCookies = secureCookies
        self.bcryptCost = bcryptCost
        self.signInBurst = signInBurst
        self.signInRefillSeconds = signInRefillSeconds
        self.sessionLifetime = sessionLifetime
        self.preloadDirectory = preloadDirectory
    }
}

/// A configuration the hub cannot start with.
public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ message: String) { description = message }
}
