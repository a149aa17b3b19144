#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Immutable bytes of a model file: either a read-only memory map of the file or an owned heap copy.
///
/// `ModelBytes` is `Sendable`: its memory is never written after initialisation, and it is unmapped or freed only
/// when the last reference goes away. Every view into a model (tensor data, metadata, labels) keeps a reference to it.
public final class ModelBytes: @unchecked Sendable {
    /// The whole file.
    public let buffer: UnsafeRawBufferPointer
    private let release: @Sendable (UnsafeRawBufferPointer) -> Void

    /// Maps the file at `path` read-only.
    /// - Throws: `ModelError.io` when the file cannot be opened, read or mapped.
    public init(contentsOfFile path: String) throws(ModelError) {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw .io(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw .io(path: path, reason: String(cString: strerror(errno))) }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw .io(path: path, reason: "not a regular file") }
        let size = Int(st.st_size)
        if size == 0 {
            let p = UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 16)
            buffer = UnsafeRawBufferPointer(start: p, count: 0)
            release = { $0.baseAddress.map { UnsafeMutableRawPointer(mutating: $0).deallocate() } }
            return
        }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw .io(path: path, reason: "mmap failed: " + String(cString: strerror(errno)))
        }
        buffer = UnsafeRawBufferPointer(start: p, count: size)
        release = { munmap(UnsafeMutableRawPointer(mutating: $0.baseAddress), $0.count) }
    }

    /// Copies `bytes` into 64-byte aligned memory owned by this object.
    public init<C: Collection>(copying bytes: C) where C.Element == UInt8 {
        let count = bytes.count
        let p = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1), alignment: 64)
        let typed = p.bindMemory(to: UInt8.self, capacity: max(count, 1))
        _ = UnsafeMutableBufferPointer(start: typed, count: count).initialize(from: bytes)
        buffer = UnsafeRawBufferPointer(start: p, count: count)
        release = { $0.baseAddress.map { UnsafeMutableRawPointer(mutating: $0).deallocate() } }
    }

    deinit { release(buffer) }

    /// Number of bytes.
    public var count: Int { buffer.count }

    /// A copy of the bytes in `range` (checked).
    public func copyBytes(in range: Range<Int>) -> [UInt8] {
        precondition(range.lowerBound >= 0 && range.upperBound <= buffer.count)
        return Array(UnsafeRawBufferPointer(rebasing: buffer[range]))
    }
}
