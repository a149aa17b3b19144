import XCTest
@testable import MagpieModel

/// A tiny zip writer for tests: stored entries, with every field that a hostile file could lie about overridable.
/// Offsets are absolute within the output (prefix included), as TFLite Support writes its appended archives.
struct TestZip {
    struct File {
        var name: String
        var data: [UInt8]
        var method: UInt16 = 0
        var flags: UInt16 = 0
        /// Overrides for the central directory header (nil: the honest value).
        var crc: UInt32?
        var compressedSize: UInt32?
        var uncompressedSize: UInt32?
        var localOffset: UInt32?
        var centralExtra: [UInt8] = []
        /// Overrides for the local header (nil: the same as the central header).
        var localCompressedSize: UInt32?
        var localUncompressedSize: UInt32?
        var localName: String?
    }

    var files: [File]
    var prefix: [UInt8] = []
    var comment: [UInt8] = []
    var entryCount: UInt16?
    var directorySize: UInt32?
    var directoryOffset: UInt32?
    var diskNumber: UInt16 = 0

    /// CRC-32 computed bit by bit, independently of the library's table-driven one.
    static func crc(_ data: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in data {
            c ^= UInt32(b)
            for _ in 0..<8 { c = (c >> 1) ^ (0xEDB8_8320 & (0 &- (c & 1))) }
        }
        return ~c
    }

    func build() -> [UInt8] {
        var out = prefix
        var central: [UInt8] = []
        for f in files {
            let crc = f.crc ?? TestZip.crc(f.data)
            let csize = f.compressedSize ?? UInt32(f.data.count)
            let usize = f.uncompressedSize ?? UInt32(f.data.count)
            let offset = f.localOffset ?? UInt32(out.count)
            let localName = Array((f.localName ?? f.name).utf8)
            out.u32(0x0403_4B50); out.u16(20); out.u16(f.flags); out.u16(f.method); out.u16(0); out.u16(0)
            out.u32(crc); out.u32(f.localCompressedSize ?? csize); out.u32(f.localUncompressedSize ?? usize)
            out.u16(UInt16(localName.count)); out.u16(0)
            out += localName
            out += f.data
            let name = Array(f.name.utf8)
            central.u32(0x0201_4B50); central.u16(20); central.u16(20); central.u16(f.flags); central.u16(f.method)
            central.u16(0); central.u16(0); central.u32(crc); central.u32(csize); central.u32(usize)
            central.u16(UInt16(name.count)); central.u16(UInt16(f.centralExtra.count)); central.u16(0)
            central.u16(0); central.u16(0); central.u32(0); central.u32(offset)
            central += name
            central += f.centralExtra
        }
        let directoryStart = out.count
        out += central
        out.u32(0x0605_4B50); out.u16(diskNumber); out.u16(0)
        out.u16(entryCount ?? UInt16(files.count)); out.u16(entryCount ?? UInt16(files.count))
        out.u32(directorySize ?? UInt32(central.count)); out.u32(directoryOffset ?? UInt32(directoryStart))
        out.u16(UInt16(comment.count))
        out += comment
        return out
    }
}

extension Array where Element == UInt8 {
    mutating func u16(_ v: UInt16) { append(UInt8(v & 0xFF)); append(UInt8(v >> 8)) }
    mutating func u32(_ v: UInt32) { for s in stride(from: 0, to: 32, by: 8) { append(UInt8((v >> UInt32(s)) & 0xFF)) } }

    init(hex: String) {
        var bytes: [UInt8] = []
        var it = hex.makeIterator()
        while let h = it.next(), let l = it.next() { bytes.append(UInt8(String([h, l]), radix: 16)!) }
        self = bytes
    }
}

/// A small deterministic generator, so fuzz failures reproduce.
struct SplitMix64 {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}

final class ZipArchiveTests: XCTestCase {
    let labels = Array("cat\ndog\n".utf8)
    let readme = Array("# hello\r\n".utf8)

    func honest(prefix: Int = 0) -> TestZip {
        TestZip(files: [.init(name: "labels.txt", data: labels), .init(name: "docs/readme.md", data: readme)],
                prefix: Array(repeating: 0xAB, count: prefix))
    }

    /// Asserts that opening `bytes` as an archive, and extracting every entry, throws a `ModelError`.
    func assertRefused(_ bytes: [UInt8], maxEntrySize: Int = ZipArchive.defaultMaxEntrySize, _ message: String = "",
                       file: StaticString = #filePath, line: UInt = #line, check: (ModelError) -> Void = { _ in }) {
        do {
            let archive = try ZipArchive(data: bytes, maxEntrySize: maxEntrySize)
            for e in archive.entries { _ = try archive.data(of: e) }
            XCTFail("accepted a bad archive: \(message)", file: file, line: line)
        } catch let error as ModelError {
            check(error)
        } catch {
            XCTFail("threw a non-ModelError \(error)", file: file, line: line)
        }
    }

    func testCRC32KnownAnswers() {
        XCTAssertEqual(ZipArchive.crc32(Array("123456789".utf8)), 0xCBF4_3926)
        XCTAssertEqual(ZipArchive.crc32([UInt8]()), 0)
        XCTAssertEqual(TestZip.crc(Array("123456789".utf8)), 0xCBF4_3926)
        var rng = SplitMix64(state: 7)
        let random = (0..<4096).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        XCTAssertEqual(ZipArchive.crc32(random), TestZip.crc(random))
    }

    /// A standalone archive written by Python's zipfile and concatenated after 8 bytes of other data, so its offsets
    /// are relative to its own start. Expected values are what Python's zipfile reports.
    func testReadsPythonWrittenArchive() throws {
        let hex = "4a554e4b4a554e4b504b030414000000000021827a5d8855f1040f0000000f0000000a0000006c6162656c732e7478746361740d0a646f670a0a626972640a504b030414000000000000002150ac2a93d802000000020000000d0000006469722f726561646d652e6d646869504b03041400000008000000215058f09a5906000000c80000000a0000007061636b65642e7478744b4c1c1e0000504b0102140314000000000021827a5d8855f1040f0000000f0000000a00000000000000000000008001000000006c6162656c732e747874504b0102140314000000000000002150ac2a93d802000000020000000d00000000000000000000008001370000006469722f726561646d652e6d64504b010214031400000008000000215058f09a5906000000c80000000a00000000000000000000008001640000007061636b65642e747874504b05060000000003000300ab0000009200000006006d6167706965"
        let bytes = [UInt8](hex: hex)
        XCTAssertEqual(bytes.count, 353)
        let archive = try ZipArchive(data: bytes)
        XCTAssertEqual(archive.entries.map(\.name), ["labels.txt", "dir/readme.md", "packed.txt"])
        XCTAssertEqual(archive.entries.map(\.method), [0, 0, 8])
        XCTAssertEqual(archive.entries.map(\.compressedSize), [15, 2, 6])
        XCTAssertEqual(archive.entries.map(\.uncompressedSize), [15, 2, 200])
        XCTAssertEqual(archive.entries.map(\.crc32), [0x04F1_5588, 0xD893_2AAC, 0x599A_F058])
        XCTAssertEqual(archive.entries.map(\.headerOffset), [8, 63, 108])
        XCTAssertEqual(archive.comment, Array("magpie".utf8))
        XCTAssertEqual(archive.range, 8..<353)

        let text = try XCTUnwrap(try archive.data(named: "labels.txt"))
        XCTAssertEqual(text, Array("cat\r\ndog\n\nbird\n".utf8))
        XCTAssertEqual(try Model.lines(of: text, name: "labels.txt"), ["cat", "dog", "", "bird"])
        XCTAssertEqual(try archive.data(named: "dir/readme.md"), Array("hi".utf8))
        XCTAssertNil(try archive.data(named: "missing.txt"))
        XCTAssertThrowsError(try archive.data(named: "packed.txt")) { error in
            guard case .unsupported(let why)? = error as? ModelError else { return XCTFail("\(error)") }
            XCTAssertTrue(why.contains("deflate"), why)
        }
    }

    func testReadsOwnWriterWithAndWithoutPrefix() throws {
        for prefix in [0, 1, 1000] {
            let archive = try ZipArchive(data: honest(prefix: prefix).build())
            XCTAssertEqual(archive.entries.map(\.name), ["labels.txt", "docs/readme.md"])
            XCTAssertEqual(try archive.data(named: "labels.txt"), labels)
            XCTAssertEqual(try archive.data(named: "docs/readme.md"), readme)
            XCTAssertEqual(archive.range.lowerBound, prefix)
        }
        var empty = TestZip(files: [])
        empty.comment = Array("nothing here".utf8)
        let archive = try ZipArchive(data: empty.build())
        XCTAssertTrue(archive.entries.isEmpty)
        XCTAssertEqual(archive.comment, empty.comment)
    }

    func testNoEndRecord() throws {
        let bytes = ModelBytes(copying: Array(repeating: UInt8(0x50), count: 300))
        XCTAssertNil(try ZipArchive.appended(to: bytes))
        assertRefused(Array(repeating: 0x50, count: 300), "no end record")
        assertRefused([], "empty")
        assertRefused([0x50, 0x4B, 0x05, 0x06], "a bare signature")
    }

    func testEveryTruncationIsRefusedOrHarmless() throws {
        let full = honest(prefix: 16).build()
        // Cutting the end loses the end record (or makes its comment length wrong).
        for n in 0..<full.count { assertRefused(Array(full.prefix(n)), "first \(n) bytes") }
        // Cutting the start moves the directory before where its recorded offset says it is.
        for n in 17..<full.count { assertRefused(Array(full.suffix(from: n)), "from byte \(n)") }
    }

    func testCorruptEndRecord() {
        var z = honest()
        z.entryCount = 40  // 40 x 46 bytes cannot fit in the directory
        assertRefused(z.build(), "too many entries") { XCTAssertEqual($0, .malformed("zip central directory of 116 bytes cannot hold 40 entries")) }
        z = honest(); z.entryCount = 1
        assertRefused(z.build(), "too few entries") { guard case .malformed = $0 else { return XCTFail("\($0)") } }
        z = honest(); z.directorySize = 100_000
        assertRefused(z.build(), "directory larger than the file") { guard case .truncated = $0 else { return XCTFail("\($0)") } }
        z = honest(); z.directorySize = 50
        assertRefused(z.build(), "directory smaller than its entries")
        z = honest(); z.directoryOffset = 0x7FFF_0000
        assertRefused(z.build(), "directory offset past the file") { guard case .malformed = $0 else { return XCTFail("\($0)") } }
        z = honest(); z.diskNumber = 1
        assertRefused(z.build(), "multi-disk") { guard case .unsupported = $0 else { return XCTFail("\($0)") } }
        z = honest(); z.directoryOffset = 0xFFFF_FFFF
        assertRefused(z.build(), "zip64 marker") { guard case .unsupported = $0 else { return XCTFail("\($0)") } }

        var bytes = honest().build()
        bytes[bytes.count - 2] = 5  // comment length says 5, but nothing follows the record
        assertRefused(bytes, "comment length past the end")
        bytes = honest().build()
        bytes[bytes.count - 22] = 0x51  // signature broken
        assertRefused(bytes, "broken signature")

        // A zip64 end-of-central-directory locator right before the end record.
        let plain = honest().build()
        var locator: [UInt8] = []
        locator.u32(0x0706_4B50); locator.u32(0); locator.u32(0); locator.u32(0); locator.u32(1)  // 20 bytes
        let zip64 = Array(plain.dropLast(22)) + locator + Array(plain.suffix(22))
        assertRefused(zip64, "zip64 locator") { guard case .unsupported = $0 else { return XCTFail("\($0)") } }
    }

    func testEntryOutsideTheFile() {
        var z = honest()
        z.files[1].localOffset = 0x7FFF_FFF0
        assertRefused(z.build(), "local header offset past the end") { guard case .truncated = $0 else { return XCTFail("\($0)") } }
        z = honest()
        z.files[0].localOffset = 5  // inside the first local header: no signature there
        assertRefused(z.build(), "local header offset into garbage") { guard case .malformed = $0 else { return XCTFail("\($0)") } }
        z = honest()
        z.files[1].localOffset = UInt32(z.build().count - 40)  // inside the central directory
        assertRefused(z.build(), "local header inside the central directory")
    }

    func testLyingSizes() {
        var z = honest()
        z.files[0].compressedSize = 0x0100_0000; z.files[0].uncompressedSize = 0x0100_0000
        assertRefused(z.build(), "16 MiB of data claimed in a tiny file") { guard case .truncated = $0 else { return XCTFail("\($0)") } }
        z = honest()
        z.files[0].localCompressedSize = 3
        assertRefused(z.build(), "local and central sizes disagree") { guard case .malformed = $0 else { return XCTFail("\($0)") } }
        z = honest()
        z.files[0].uncompressedSize = 20; z.files[0].localUncompressedSize = 20
        assertRefused(z.build(), "stored entry whose sizes differ") { guard case .malformed = $0 else { return XCTFail("\($0)") } }
        z = honest()
        z.files[0].uncompressedSize = 0xFFFF_FFFF
        assertRefused(z.build(), "zip64-sized entry") { guard case .unsupported = $0 else { return XCTFail("\($0)") } }
        z = honest()
        z.files[0].localName = "labels.txx"
        assertRefused(z.build(), "local name differs") { guard case .malformed = $0 else { return XCTFail("\($0)") } }
    }

    func testZipBombsAreBounded() throws {
        // A stored entry larger than the limit is listed but not extracted.
        let big = TestZip(files: [.init(name: "zeros.bin", data: Array(repeating: 0, count: 4096))]).build()
        let archive = try ZipArchive(data: big, maxEntrySize: 1024)
        XCTAssertEqual(archive.entries.first?.uncompressedSize, 4096)
        XCTAssertThrowsError(try archive.data(named: "zeros.bin")) { error in
            XCTAssertEqual(error as? ModelError, .unsupported("zip entry 'zeros.bin' of 4096 bytes exceeds the 1024-byte limit"))
        }
        XCTAssertEqual(try ZipArchive(data: big, maxEntrySize: 4096).data(named: "zeros.bin")?.count, 4096)

        // A deflate entry of 16 bytes claiming almost 4 GiB: refused without allocating anything.
        var bomb = TestZip(files: [.init(name: "bomb.bin", data: Array(repeating: 0x03, count: 16), method: 8,
                                         uncompressedSize: 0xFFFF_FFFE)])
        assertRefused(bomb.build(), "deflate bomb") { guard case .unsupported = $0 else { return XCTFail("\($0)") } }
        bomb.files[0].method = 0
        assertRefused(bomb.build(), "stored bomb") { guard case .unsupported = $0 else { return XCTFail("\($0)") } }

        // Overlapping entries (the "non-recursive zip bomb" trick): B's local header and data lie inside A's data.
        let inner = TestZip(files: [.init(name: "b", data: Array(repeating: 7, count: 64))]).build()
        let innerLocal = Array(inner.prefix(30 + 1 + 64))
        var overlap = TestZip(files: [.init(name: "a", data: innerLocal),
                                      .init(name: "b", data: [], crc: TestZip.crc(Array(repeating: 7, count: 64)),
                                            compressedSize: 64, uncompressedSize: 64, localOffset: 31)])
        overlap.files[1].localCompressedSize = 64
        assertRefused(overlap.build(), "overlapping entries")
    }

    func testBadCRC() throws {
        var bytes = honest().build()
        bytes[30 + 10 + 2] ^= 0x01  // a byte of labels.txt's data
        let archive = try ZipArchive(data: bytes)
        XCTAssertThrowsError(try archive.data(named: "labels.txt")) { error in
            guard case .malformed(let why)? = error as? ModelError else { return XCTFail("\(error)") }
            XCTAssertTrue(why.contains("CRC-32"), why)
        }
        XCTAssertEqual(try archive.data(named: "docs/readme.md"), readme)

        var z = honest()
        z.files[1].crc = 0x1234_5678
        assertRefused(z.build(), "wrong CRC in both headers") { guard case .malformed = $0 else { return XCTFail("\($0)") } }
    }

    func testEncryptionDuplicatesAndExtraFields() throws {
        var z = honest()
        z.files[0].flags = 1
        assertRefused(z.build(), "encrypted") { XCTAssertEqual($0, .unsupported("zip entry 'labels.txt' is encrypted")) }
        z = honest()
        z.files[1].name = "labels.txt"
        assertRefused(z.build(), "duplicate names") { guard case .malformed = $0 else { return XCTFail("\($0)") } }
        z = honest()
        z.files[0].centralExtra = [0x01, 0x00, 0x08, 0x00, 0, 0, 0, 0, 0, 0, 0, 0]
        assertRefused(z.build(), "zip64 extra field") { guard case .unsupported = $0 else { return XCTFail("\($0)") } }
        z = honest()
        z.files[0].centralExtra = [0x55, 0x54, 0x09, 0x00, 1, 2, 3]
        assertRefused(z.build(), "extra record past its field") { guard case .malformed = $0 else { return XCTFail("\($0)") } }
        z = honest()
        z.files[0].centralExtra = [0x55, 0x54, 0x03, 0x00, 1, 2, 3]  // a well-formed unknown record is fine
        XCTAssertEqual(try ZipArchive(data: z.build()).data(named: "labels.txt"), labels)
    }

    func testEntryFromAnotherArchiveIsRefused() throws {
        let a = try ZipArchive(data: honest().build())
        let b = try ZipArchive(data: honest(prefix: 5000).build())
        let foreign = try XCTUnwrap(b.entry(named: "labels.txt"))
        XCTAssertThrowsError(try a.data(of: foreign)) { XCTAssertTrue($0 is ModelError) }
    }

    /// Random byte flips and splices over a valid archive: every outcome is a value or a `ModelError`, never a trap.
    func testRandomCorruptionNeverTraps() {
        let base = honest(prefix: 8).build()
        var rng = SplitMix64(state: 0x5EED)
        var opened = 0, refused = 0
        for _ in 0..<3000 {
            var bytes = base
            for _ in 0..<(1 + rng.below(4)) {
                let i = rng.below(bytes.count)
                switch rng.below(3) {
                case 0: bytes[i] ^= UInt8(1 << rng.below(8))
                case 1: bytes[i] = UInt8(truncatingIfNeeded: rng.next())
                default: bytes[i] = [0x00, 0xFF, 0x7F, 0x80][rng.below(4)]
                }
            }
            do {
                let archive = try ZipArchive(data: bytes)
                for e in archive.entries {
                    do { _ = try archive.data(of: e) } catch { XCTAssertTrue(error is ModelError, "\(error)") }
                }
                opened += 1
            } catch {
                XCTAssertTrue(error is ModelError, "\(error)")
                refused += 1
            }
        }
        XCTAssertEqual(opened + refused, 3000)
        XCTAssertGreaterThan(refused, 0)
    }
}
