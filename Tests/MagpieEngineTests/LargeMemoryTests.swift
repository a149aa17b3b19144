import XCTest
@testable import MagpieEngine

/// `LargeMemory` (2 MiB-aligned mappings for huge pages) and `ScratchAllocations`, which carves its large requests
/// from such chunks and takes small ones from malloc: every block zeroed, 64-byte aligned, writable to its end and
/// apart from the others.
final class LargeMemoryTests: XCTestCase {
    func testMappingIsAlignedZeroedAndWritable() throws {
        for bytes in [1, 4096, LargeMemory.alignment, LargeMemory.alignment + 1, 5 << 20] {
            let m = try XCTUnwrap(LargeMemory(bytes: bytes))
            XCTAssertEqual(Int(bitPattern: m.base) % LargeMemory.alignment, 0, "\(bytes) bytes")
            XCTAssertGreaterThanOrEqual(m.length, bytes)
            XCTAssertEqual(m.length % LargeMemory.alignment, 0)
            let p = m.base.bindMemory(to: UInt8.self, capacity: m.length)
            XCTAssertEqual(p[0], 0); XCTAssertEqual(p[m.length - 1], 0)
            p[0] = 1; p[m.length - 1] = 2
            XCTAssertEqual(p[0] + p[m.length - 1], 3)
        }
    }

    func testScratchBlocksAreZeroedAlignedAndDisjoint() {
        let scratch = ScratchAllocations()
        // Small (malloc) and large (carved) requests mixed; the 5 MiB one needs a chunk of its own.
        let counts = [3, 40_000, 17, 1_000_000, 4_096, 1_310_720, 70_000, 1]
        var blocks: [(start: Int, end: Int)] = []
        for (i, count) in counts.enumerated() {
            let p = scratch.allocate(Float.self, count: count)
            XCTAssertEqual(Int(bitPattern: p) % 64, 0, "block \(i)")
            XCTAssertTrue((0..<count).allSatisfy { p[$0] == 0 }, "block \(i) is zeroed")
            for j in 0..<count { p[j] = Float(i + 1) }
            blocks.append((Int(bitPattern: p), Int(bitPattern: p + count)))
        }
        for a in blocks.indices {
            for b in blocks.indices where a < b {
                XCTAssertTrue(blocks[a].end <= blocks[b].start || blocks[b].end <= blocks[a].start, "\(a) and \(b)")
            }
        }
        // Nothing written later overwrote an earlier block.
        for (i, count) in counts.enumerated() {
            let p = UnsafePointer<Float>(bitPattern: blocks[i].start)!
            XCTAssertTrue((0..<count).allSatisfy { p[$0] == Float(i + 1) }, "block \(i) kept its values")
        }
    }
}
