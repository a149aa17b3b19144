/// A strictly bounds-checked reader for a zip archive, such as the one TFLite Support appends to a `.tflite` file
/// to carry the model's associated files (label maps, vocabularies).
///
/// Only what those archives need is supported: a single-disk, non-zip64 archive whose entries are stored
/// (compression method 0). Everything is validated when the archive is opened — the end record, every central
/// directory header, every local header and the position of every entry's data — so a hostile file cannot make
/// the reader read outside its bytes. Entries may not overlap. Extraction checks the size limit and the CRC-32.
///
/// Offsets in the archive may be absolute (an archive appended in place, as TFLite Support writes it) or relative to
/// the archive's own start (a standalone zip concatenated to the model); the difference is measured from where the
/// central directory actually lies, as other zip readers do.
public struct ZipArchive: Sendable {
    /// One file in the archive, as its central directory header and local header describe it.
    public struct Entry: Sendable, Equatable {
        /// The file's name inside the archive (UTF-8; bytes that are not UTF-8 are read as Latin-1).
        public let name: String
        /// The compression method: 0 is stored, 8 is deflate.
        public let method: UInt16
        /// The general-purpose flag bits.
        public let flags: UInt16
        /// The CRC-32 of the uncompressed data, as the central directory records it.
        public let crc32: UInt32
        /// Size of the data as it lies in the file.
        public let compressedSize: Int
        /// Size of the data once extracted.
        public let uncompressedSize: Int
        /// Absolute offset of the entry's local header within the bytes.
        public let headerOffset: Int
        /// Absolute byte range of the entry's (possibly compressed) data within the bytes.
        public let dataRange: Range<Int>

        /// Whether the entry is stored without compression.
        public var isStored: Bool { method == 0 }
    }

    /// The largest entry `data(of:)` extracts unless told otherwise: 64 MiB.
    public static let defaultMaxEntrySize = 64 << 20

    /// The bytes the archive lies in (typically the whole model file).
    public let bytes: ModelBytes
    /// The entries, in central-directory order.
    public let entries: [Entry]
    /// Where the archive lies within `bytes`: from its first local header to the end of its end record.
    public let range: Range<Int>
    /// The archive comment.
    public let comment: [UInt8]
    /// The largest uncompressed size `data(of:)` accepts.
    public let maxEntrySize: Int

    private static let endRecordSignature: UInt32 = 0x0605_4B50
    private static let zip64LocatorSignature: UInt32 = 0x0706_4B50
    private static let centralHeaderSignature: UInt32 = 0x0201_4B50
    private static let localHeaderSignature: UInt32 = 0x0403_4B50
    private static let endRecordSize = 22
    private static let centralHeaderSize = 46
    private static let localHeaderSize = 30
    private static let maxCommentLength = 0xFFFF

    /// Opens the zip archive at the end of `bytes`.
    /// - Parameters:
    ///   - bytes: The file holding the archive; the archive must end where the bytes end.
    ///   - maxEntrySize: The largest uncompressed entry `data(of:)` will extract.
    /// - Throws: `ModelError.malformed` when there is no end-of-central-directory record, or `ModelError` saying what
    ///   is wrong with the archive (`.truncated`, `.malformed`, `.unsupported` for zip64, multi-disk or encrypted
    ///   archives).
    public init(bytes: ModelBytes, maxEntrySize: Int = ZipArchive.defaultMaxEntrySize) throws {
        guard let archive = try ZipArchive.appended(to: bytes, maxEntrySize: maxEntrySize) else {
            throw ModelError.malformed("no zip end-of-central-directory record in the last \(Self.endRecordSize + Self.maxCommentLength) bytes")
        }
        self = archive
    }

    /// Opens a zip archive held in memory (the bytes are copied).
    /// - Parameters:
    ///   - data: The archive's bytes, possibly preceded by other data.
    ///   - maxEntrySize: The largest uncompressed entry `data(of:)` will extract.
    /// - Throws: `ModelError` as `init(bytes:maxEntrySize:)` does.
    public init(data: some Collection<UInt8>, maxEntrySize: Int = ZipArchive.defaultMaxEntrySize) throws {
        try self.init(bytes: ModelBytes(copying: data), maxEntrySize: maxEntrySize)
    }

    /// The archive appended to `bytes`, or nil when the bytes end without a zip end-of-central-directory record.
    /// - Parameters:
    ///   - bytes: The file that may end with an archive.
    ///   - maxEntrySize: The largest uncompressed entry `data(of:)` will extract.
    /// - Throws: `ModelError` when there is an end record but the archive it describes is malformed or unsupported.
    public static func appended(to bytes: ModelBytes, maxEntrySize: Int = ZipArchive.defaultMaxEntrySize) throws -> ZipArchive? {
        let whole = FlatBufferReader(bytes: bytes.buffer, range: 0..<bytes.count, owner: bytes)
        guard let end = try findEndRecord(whole) else { return nil }
        return try ZipArchive(bytes: bytes, reader: whole, endRecord: end, maxEntrySize: maxEntrySize)
    }

    /// The first entry called `name`, if any.
    public func entry(named name: String) -> Entry? { entries.first { $0.name == name } }

    /// The extracted contents of the entry called `name`, or nil when the archive has no such entry.
    /// - Parameter name: The entry's name inside the archive.
    /// - Throws: `ModelError` as `data(of:)` does.
    public func data(named name: String) throws -> [UInt8]? {
        guard let e = entry(named: name) else { return nil }
        return try data(of: e)
    }

    /// Extracts an entry and verifies its CRC-32.
    /// - Parameter entry: One of this archive's `entries`.
    /// - Throws: `ModelError.badIndex` for an entry of another archive; `.unsupported` for a compressed entry or one
    ///   larger than `maxEntrySize`; `.malformed` when a stored entry's sizes disagree or the CRC-32 does not match.
    public func data(of entry: Entry) throws -> [UInt8] {
        guard let index = entries.firstIndex(of: entry) else {
            throw ModelError.badIndex(what: "zip entry '\(entry.name)' (not in this archive)", index: -1, count: entries.count)
        }
        guard entry.method == 0 else {
            let name = entry.method == 8 ? "deflate" : "unknown"
            throw ModelError.unsupported("zip entry '\(entry.name)' uses compression method \(entry.method) (\(name)); only stored entries can be read")
        }
        guard entry.uncompressedSize <= maxEntrySize else {
            throw ModelError.unsupported("zip entry '\(entry.name)' of \(entry.uncompressedSize) bytes exceeds the \(maxEntrySize)-byte limit")
        }
        guard entry.compressedSize == entry.uncompressedSize else {
            throw ModelError.malformed("stored zip entry '\(entry.name)' claims \(entry.compressedSize) bytes in the file but \(entry.uncompressedSize) extracted")
        }
        // Checked when the archive was opened; checked again so that no path can trap.
        let r = entries[index].dataRange
        guard r.lowerBound >= 0, r.upperBound <= bytes.count, r.count == entry.compressedSize else {
            throw ModelError.truncated("data of zip entry '\(entry.name)' at \(r) lies outside the \(bytes.count)-byte file")
        }
        let out = bytes.copyBytes(in: r)
        let crc = ZipArchive.crc32(out)
        guard crc == entry.crc32 else {
            throw ModelError.malformed("zip entry '\(entry.name)' fails its CRC-32 check: recorded \(hex(entry.crc32)), computed \(hex(crc))")
        }
        return out
    }

    /// The CRC-32 (ISO-HDLC, as zip and PNG use it) of `bytes`.
    /// - Parameter bytes: The data to checksum.
    public static func crc32(_ bytes: some Sequence<UInt8>) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes { c = crcTable[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }

    private static let crcTable: [UInt32] = (0..<256).map { (i: UInt32) -> UInt32 in
        var c = i
        for _ in 0..<8 { c = (c & 1) != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    /// Scans back from the end, over at most a maximal comment, for an end record whose comment length reaches
    /// exactly to the end of the bytes.
    private static func findEndRecord(_ r: FlatBufferReader) throws -> Int? {
        let n = r.range.upperBound
        guard n >= endRecordSize else { return nil }
        let lowest = max(0, n - endRecordSize - maxCommentLength)
        var p = n - endRecordSize
        while p >= lowest {
            if r.bytes[p] == 0x50, try r.load(UInt32.self, at: p, "zip end record") == endRecordSignature {
                let commentLength = Int(try r.load(UInt16.self, at: p + 20, "zip end record"))
                if p + endRecordSize + commentLength == n { return p }
            }
            p -= 1
        }
        return nil
    }

    private init(bytes: ModelBytes, reader whole: FlatBufferReader, endRecord end: Int, maxEntrySize: Int) throws {
        self.bytes = bytes
        self.maxEntrySize = maxEntrySize
        let u16 = { (p: Int, what: String) throws -> Int in Int(try whole.load(UInt16.self, at: p, what)) }
        let u32 = { (p: Int, what: String) throws -> Int in Int(try whole.load(UInt32.self, at: p, what)) }

        let diskNumber = try u16(end + 4, "zip end record")
        let directoryDisk = try u16(end + 6, "zip end record")
        let entriesOnDisk = try u16(end + 8, "zip end record")
        let entryCount = try u16(end + 10, "zip end record")
        let directorySize = try u32(end + 12, "zip end record")
        let directoryOffset = try u32(end + 16, "zip end record")
        let commentLength = try u16(end + 20, "zip end record")
        comment = bytes.copyBytes(in: (end + Self.endRecordSize)..<(end + Self.endRecordSize + commentLength))

        if end >= 20, try whole.load(UInt32.self, at: end - 20, "zip64 locator") == Self.zip64LocatorSignature {
            throw ModelError.unsupported("zip64 archives are not supported")
        }
        if entryCount == 0xFFFF || entriesOnDisk == 0xFFFF || directorySize == 0xFFFF_FFFF || directoryOffset == 0xFFFF_FFFF {
            throw ModelError.unsupported("zip64 archives are not supported (end record fields are saturated)")
        }
        guard diskNumber == 0, directoryDisk == 0, entriesOnDisk == entryCount else {
            throw ModelError.unsupported("multi-disk zip archives are not supported (disk \(diskNumber), directory on disk \(directoryDisk), \(entriesOnDisk) of \(entryCount) entries here)")
        }
        guard directorySize <= end else {
            throw ModelError.truncated("zip central directory of \(directorySize) bytes does not fit before its end record at offset \(end)")
        }
        let directoryStart = end - directorySize
        guard directoryOffset <= directoryStart else {
            throw ModelError.malformed("zip central directory offset \(directoryOffset) lies past where the directory actually starts (\(directoryStart))")
        }
        let shift = directoryStart - directoryOffset
        guard entryCount * Self.centralHeaderSize <= directorySize else {
            throw ModelError.malformed("zip central directory of \(directorySize) bytes cannot hold \(entryCount) entries")
        }

        // Central headers must lie in the directory; local headers and data must lie before it.
        let directory = FlatBufferReader(bytes: bytes.buffer, range: directoryStart..<end, owner: bytes)
        let data = FlatBufferReader(bytes: bytes.buffer, range: 0..<directoryStart, owner: bytes)
        var entries: [Entry] = []
        entries.reserveCapacity(entryCount)
        var names = Set<String>()
        var p = directoryStart
        for i in 0..<entryCount {
            let what = "zip central directory entry \(i)"
            try directory.check(p, Self.centralHeaderSize, what)
            guard try directory.load(UInt32.self, at: p, what) == Self.centralHeaderSignature else {
                throw ModelError.malformed("\(what) at offset \(p) has no central header signature")
            }
            let c16 = { (o: Int) throws -> Int in Int(try directory.load(UInt16.self, at: p + o, what)) }
            let c32 = { (o: Int) throws -> Int in Int(try directory.load(UInt32.self, at: p + o, what)) }
            let flags = try c16(8), method = try c16(10)
            let crc = UInt32(try c32(16)), compressed = try c32(20), uncompressed = try c32(24)
            let nameLength = try c16(28), extraLength = try c16(30), entryCommentLength = try c16(32)
            let startDisk = try c16(34), localOffset = try c32(42)
            let nameStart = p + Self.centralHeaderSize
            try directory.check(nameStart, nameLength + extraLength + entryCommentLength, "\(what) name, extra field and comment")
            let nameBytes = bytes.copyBytes(in: nameStart..<(nameStart + nameLength))
            let name = String(validating: nameBytes, as: UTF8.self) ?? String(nameBytes.map { Character(Unicode.Scalar($0)) })
            let label = "zip entry '\(name)'"

            if flags & 0x0001 != 0 || flags & 0x0040 != 0 || flags & 0x2000 != 0 {
                throw ModelError.unsupported("\(label) is encrypted")
            }
            if compressed == 0xFFFF_FFFF || uncompressed == 0xFFFF_FFFF || localOffset == 0xFFFF_FFFF || startDisk == 0xFFFF {
                throw ModelError.unsupported("\(label) needs zip64, which is not supported")
            }
            try Self.checkExtraField(directory, at: nameStart + nameLength, length: extraLength, label: label)
            guard startDisk == 0 else { throw ModelError.unsupported("\(label) starts on disk \(startDisk)") }
            guard names.insert(name).inserted else { throw ModelError.malformed("the zip archive has two entries named '\(name)'") }

            // The local header, which must agree with the central one.
            let local = localOffset + shift
            try data.check(local, Self.localHeaderSize, "local header of \(label)")
            let l16 = { (o: Int) throws -> Int in Int(try data.load(UInt16.self, at: local + o, "local header of \(label)")) }
            let l32 = { (o: Int) throws -> Int in Int(try data.load(UInt32.self, at: local + o, "local header of \(label)")) }
            guard UInt32(try l32(0)) == Self.localHeaderSignature else {
                throw ModelError.malformed("\(label) points at offset \(local), which holds no local header")
            }
            let localFlags = try l16(6), localMethod = try l16(8)
            let localNameLength = try l16(26), localExtraLength = try l16(28)
            guard localMethod == method else {
                throw ModelError.malformed("\(label) has method \(method) in the central directory but \(localMethod) in its local header")
            }
            if localFlags & 0x0008 == 0 {
                let localCRC = try l32(14), localCompressed = try l32(18), localUncompressed = try l32(22)
                guard localCRC == Int(crc), localCompressed == compressed, localUncompressed == uncompressed else {
                    throw ModelError.malformed("\(label): the local header says \(localCompressed)/\(localUncompressed) bytes, CRC \(hex(UInt32(localCRC))); the central directory says \(compressed)/\(uncompressed) bytes, CRC \(hex(crc))")
                }
            }
            let localName = local + Self.localHeaderSize
            try data.check(localName, localNameLength + localExtraLength, "local name and extra field of \(label)")
            guard bytes.copyBytes(in: localName..<(localName + localNameLength)) == nameBytes else {
                throw ModelError.malformed("\(label) has a different name in its local header")
            }
            try Self.checkExtraField(data, at: localName + localNameLength, length: localExtraLength, label: label)
            let dataStart = localName + localNameLength + localExtraLength
            try data.check(dataStart, compressed, "data of \(label)")

            entries.append(Entry(name: name, method: UInt16(method), flags: UInt16(flags), crc32: crc,
                                 compressedSize: compressed, uncompressedSize: uncompressed,
                                 headerOffset: local, dataRange: dataStart..<(dataStart + compressed)))
            p = nameStart + nameLength + extraLength + entryCommentLength
        }
        guard p == end else {
            throw ModelError.malformed("zip central directory has \(end - p) bytes after its \(entryCount) entries")
        }

        let ordered = entries.sorted { $0.headerOffset < $1.headerOffset }
        for (a, b) in zip(ordered, ordered.dropFirst()) where a.dataRange.upperBound > b.headerOffset {
            throw ModelError.malformed("zip entries '\(a.name)' and '\(b.name)' overlap")
        }
        self.entries = entries
        range = (ordered.first?.headerOffset ?? directoryStart)..<whole.range.upperBound
    }

    /// Walks an extra field's records, refusing zip64 ones and records that run past the field.
    private static func checkExtraField(_ r: FlatBufferReader, at start: Int, length: Int, label: String) throws {
        var p = start
        let end = start + length
        while p < end {
            guard end - p >= 4 else { throw ModelError.malformed("extra field of \(label) ends inside a record header") }
            let id = try r.load(UInt16.self, at: p, "extra field of \(label)")
            let size = Int(try r.load(UInt16.self, at: p + 2, "extra field of \(label)"))
            guard size <= end - p - 4 else { throw ModelError.malformed("extra field record \(hex(UInt32(id))) of \(label) runs past its field") }
            if id == 0x0001 { throw ModelError.unsupported("\(label) carries zip64 sizes, which are not supported") }
            p += 4 + size
        }
    }
}

private func hex(_ v: UInt32) -> String {
    let s = String(v, radix: 16)
    return "0x" + String(repeating: "0", count: max(0, 8 - s.count)) + s
}
