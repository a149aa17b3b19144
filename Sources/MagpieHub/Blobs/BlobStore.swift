import Crypto
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a blob operation failed.
public enum BlobError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The upload grew past the size limit (bytes).
    case tooLarge(limit: Int64)
    /// A file system call failed; the message names the call and the path.
    case io(String)
    /// No blob with this digest.
    case notFound(String)

    public var description: String {
        switch self {
        case let .tooLarge(limit): return "the upload is larger than the limit of \(limit) bytes"
        case let .io(s): return s
        case let .notFound(d): return "no blob \(d)"
        }
    }
}

/// A file being uploaded: written to a temporary file on the store's file system and hashed as it streams.
///
/// Owned by one request task at a time (it may hop to a thread pool for fsync; it is never shared), hence
/// `@unchecked Sendable`. Call `finish()` once the body has ended, then `BlobStore.commit(_:)`,
/// or `discard()`.
public final class BlobUpload: @unchecked Sendable {
    /// The temporary file; the engine validates the model here before anything is committed.
    public let temporaryPath: String
    private var fd: Int32
    private var hasher = SHA256()
    private let limit: Int64
    public private(set) var size: Int64 = 0
    /// Lowercase hex SHA-256, after `finish()`.
    public private(set) var sha256: String?

    init(temporaryPath: String, fd: Int32, limit: Int64) {
        self.temporaryPath = temporaryPath
        self.fd = fd
        self.limit = limit
    }

    deinit {
        if fd >= 0 { close(fd) }
    }

    /// Appends bytes to the file and the hash.
    /// - Throws: `BlobError.tooLarge` past the limit (the caller discards the upload), `BlobError.io`.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard fd >= 0 else { throw BlobError.io("write after finish to \(temporaryPath)") }
        size += Int64(bytes.count)
        guard size <= limit else { throw BlobError.tooLarge(limit: limit) }
        hasher.update(bufferPointer: bytes)
        var offset = 0
        while offset < bytes.count {
            let n = Glibc_write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw BlobError.io("write \(temporaryPath): \(String(cString: strerror(errno)))")
            }
            offset += n
        }
    }

    /// Flushes the file to disk (fsync), closes it and computes the digest.
    @discardableResult
    public func finish() throws -> String {
        if let sha256 { return sha256 }
        guard fsync(fd) == 0 else { throw BlobError.io("fsync \(temporaryPath): \(String(cString: strerror(errno)))") }
        close(fd)
        fd = -1
        let digest = hasher.finalize().map { String(format: "%02x", $0) }.joined()
        sha256 = digest
        return digest
    }

    /// Deletes the temporary file.
    public func discard() {
        if fd >= 0 { close(fd); fd = -1 }
        unlink(temporaryPath)
    }
}

@inline(__always)
private func Glibc_write(_ fd: Int32, _ p: UnsafeRawPointer, _ n: Int) -> Int {
    #if canImport(Glibc)
    return Glibc.write(fd, p, n)
    #else
    return Darwin.write(fd, p, n)
    #endif
}

/// A content-addressed store of model files on the local file system.
///
/// Layout under `root`:
/// ```
/// blobs/sha256/ab/abcdef...   the file whose SHA-256 is abcdef... (read-only, never rewritten)
/// tmp/upload-<uuid>           uploads in progress (same file system, so commit is one rename)
/// ```
/// A blob becomes visible with one `rename(2)` after its bytes are fsynced, and the directory is fsynced after the
/// rename, so a crash leaves either no blob or a complete one. Files under `tmp/` are deleted at startup.
public struct FileBlobStore: Sendable {
    public let root: String
    /// The largest upload accepted, in bytes.
    public let maxUploadSize: Int64

    /// Creates the directories if needed.
    /// - Throws: `BlobError.io` when they cannot be created.
    public init(root: String, maxUploadSize: Int64 = 256 << 20) throws {
        self.root = root
        self.maxUploadSize = maxUploadSize
        for dir in [root, "\(root)/blobs/sha256", "\(root)/tmp"] {
            do {
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            } catch {
                throw BlobError.io("cannot create \(dir): \(error.localizedDescription)")
            }
        }
    }

    private var temporaryDirectory: String { "\(root)/tmp" }

    /// Whether `digest` looks like a lowercase hex SHA-256 (so it can never name a path outside the store).
    public static func isDigest(_ digest: String) -> Bool {
        digest.utf8.count == 64 && digest.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }
    }

    /// The path of a stored blob (whether or not it exists).
    /// - Precondition: `isDigest(digest)`.
    public func path(for digest: String) -> String {
        precondition(Self.isDigest(digest), "not a sha256 digest")
        return "\(root)/blobs/sha256/\(digest.prefix(2))/\(digest)"
    }

    /// Starts an upload into a new temporary file.
    public func beginUpload() throws -> BlobUpload {
        let path = "\(temporaryDirectory)/upload-\(UUID().uuidString)"
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw BlobError.io("open \(path): \(String(cString: strerror(errno)))") }
        return BlobUpload(temporaryPath: path, fd: fd, limit: maxUploadSize)
    }

    /// Moves a finished upload into the store under its digest. When the same bytes are already stored the
    /// temporary file is deleted instead (each content is stored once).
    /// - Returns: the digest.
    /// - Throws: `BlobError.io` when the rename or a directory fsync fails.
    @discardableResult
    public func commit(_ upload: BlobUpload) throws -> String {
        let digest = try upload.finish()
        let destination = path(for: digest)
        let directory = (destination as NSString).deletingLastPathComponent
        if FileManager.default.fileExists(atPath: destination) {
            upload.discard()
            return digest
        }
        if mkdir(directory, 0o755) != 0 && errno != EEXIST {
            throw BlobError.io("mkdir \(directory): \(String(cString: strerror(errno)))")
        }
        try Self.fsyncDirectory("\(root)/blobs/sha256")
        chmod(upload.temporaryPath, 0o444)
        guard rename(upload.temporaryPath, destination) == 0 else {
            let reason = String(cString: strerror(errno))
            upload.discard()
            throw BlobError.io("rename into \(destination): \(reason)")
        }
        try Self.fsyncDirectory(directory)
        try Self.fsyncDirectory(temporaryDirectory)
        return digest
    }

    /// Stores bytes directly (preset models, tests).
    @discardableResult
    public func store(_ bytes: [UInt8]) throws -> String {
        let upload = try beginUpload()
        do {
            try bytes.withUnsafeBytes { try upload.write($0) }
            return try commit(upload)
        } catch {
            upload.discard()
            throw error
        }
    }

    /// The size of a stored blob, nil when absent.
    public func size(of digest: String) -> Int64? {
        guard Self.isDigest(digest) else { return nil }
        var st = stat()
        guard stat(path(for: digest), &st) == 0 else { return nil }
        return Int64(st.st_size)
    }

    /// Every digest in the store.
    public func allDigests() throws -> [String] {
        let base = "\(root)/blobs/sha256"
        var result: [String] = []
        for prefix in (try? FileManager.default.contentsOfDirectory(atPath: base)) ?? [] {
            for name in (try? FileManager.default.contentsOfDirectory(atPath: "\(base)/\(prefix)")) ?? []
            where Self.isDigest(name) && name.hasPrefix(prefix) {
                result.append(name)
            }
        }
        return result.sorted()
    }

    /// Deletes every temporary file (uploads that were in progress when the server stopped). Call at startup.
    /// - Returns: how many were removed.
    @discardableResult
    public func removeTemporaryFiles() -> Int {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: temporaryDirectory)) ?? []
        var removed = 0
        for name in names where unlink("\(temporaryDirectory)/\(name)") == 0 { removed += 1 }
        return removed
    }

    /// Deletes a stored blob (startup garbage collection of blobs no version refers to).
    public func remove(_ digest: String) {
        guard Self.isDigest(digest) else { return }
        unlink(path(for: digest))
    }

    /// Reads a blob back and recomputes its SHA-256 (consistency checks).
    public func verify(_ digest: String) throws -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path(for: digest)) else { throw BlobError.notFound(digest) }
        defer { try? handle.close() }
        var hasher = SHA256()
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty { hasher.update(data: chunk) }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined() == digest
    }

    private static func fsyncDirectory(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw BlobError.io("open directory \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw BlobError.io("fsync directory \(path): \(String(cString: strerror(errno)))") }
    }
}
