import Foundation
import XCTest
@testable import MagpieVision
import MagpieModel
import MagpieTestSupport

final class SegmentationTests: XCTestCase {
    /// Scores for a 3x2 map with 4 classes; the winning class of each pixel is given, one pixel has a tie.
    private let winners: [Int32] = [2, 0, 3, 1, 1, 0]
    private func scores() -> [Float] {
        var s = [Float](repeating: 0, count: 6 * 4)
        for (p, c) in winners.enumerated() {
            for k in 0..<4 { s[p * 4 + k] = Float((p + k) % 3) * 0.1 - 0.5 }
            s[p * 4 + Int(c)] = 2
        }
        s[5 * 4 + 3] = 2  // pixel 5: classes 0 and 3 tie; the lower index wins
        return s
    }

    func testArgmaxOfFloatScores() throws {
        let map = try scores().withUnsafeBytes { try SegmentationHead.classMap($0, spec: TensorSpec(type: .float32, shape: [1, 2, 3, 4])) }
        XCTAssertEqual(map.width, 3)
        XCTAssertEqual(map.height, 2)
        XCTAssertEqual(map.classes, winners)
        XCTAssertEqual(map[2, 0], 3)
        XCTAssertEqual(map[0, 1], 1)
    }

    func testArgmaxOfQuantizedScores() throws {
        let q = QuantizationParameters(scales: [0.1], zeroPoints: [0])
        let u8: [UInt8] = scores().map { UInt8(($0 + 1) * 50) }
        let mapU8 = try u8.withUnsafeBytes { try SegmentationHead.classMap($0, spec: TensorSpec(type: .uint8, shape: [1, 2, 3, 4], quantization: q)) }
        XCTAssertEqual(mapU8.classes, winners)
        let i8: [Int8] = scores().map { Int8($0 * 60) }  // negative scores must compare as signed
        let mapI8 = try i8.withUnsafeBytes { try SegmentationHead.classMap($0, spec: TensorSpec(type: .int8, shape: [1, 2, 3, 4], quantization: q)) }
        XCTAssertEqual(mapI8.classes, winners)
        let signed: [Int8] = [-100, -3, -50, 1, 0, -1]
        let mapSigned = try signed.withUnsafeBytes { try SegmentationHead.classMap($0, spec: TensorSpec(type: .int8, shape: [1, 1, 2, 3])) }
        XCTAssertEqual(mapSigned.classes, [1, 0])
    }

    func testNaNNeverWins() throws {
        let s: [Float] = [.nan, -5, -7, 1, .nan, 0]
        let map = try s.withUnsafeBytes { try SegmentationHead.classMap($0, spec: TensorSpec(type: .float32, shape: [1, 1, 2, 3])) }
        XCTAssertEqual(map.classes, [1, 0])
    }

    func testPassThroughOfArgmaxedOutputs() throws {
        let classes: [Int64] = [0, 15, 15, 20, 0, 7]
        let m64 = try classes.withUnsafeBytes { try SegmentationHead.classMap($0, spec: TensorSpec(type: .int64, shape: [1, 2, 3])) }
        XCTAssertEqual(m64.classes, [0, 15, 15, 20, 0, 7])
        let m32 = try classes.map(Int32.init).withUnsafeBytes { try SegmentationHead.classMap($0, spec: TensorSpec(type: .int32, shape: [1, 3, 2, 1])) }
        XCTAssertEqual(m32.width, 2)
        XCTAssertEqual(m32.height, 3)
        XCTAssertEqual(m32.classes, [0, 15, 15, 20, 0, 7])
        let m8 = try classes.map(UInt8.init).withUnsafeBytes { try SegmentationHead.classMap($0, spec: TensorSpec(type: .uint8, shape: [2, 3])) }
        XCTAssertEqual(m8.classes, [0, 15, 15, 20, 0, 7])
        XCTAssertEqual(m8.pixelCounts(classCount: 21).enumerated().filter { $0.element > 0 }.map { [$0.offset, $0.element] },
                       [[0, 2], [7, 1], [15, 2], [20, 1]])
    }

    func testRejectsWhatIsNotASegmentation() {
        func attempt(_ bytes: [UInt8], _ spec: TensorSpec) -> VisionError? {
            do { _ = try bytes.withUnsafeBytes { try SegmentationHead.classMap($0, spec: spec) }; return nil } catch { return error as? VisionError }
        }
        guard case .unsupportedTensor? = attempt([UInt8](repeating: 0, count: 24), TensorSpec(type: .float32, shape: [1, 2, 3])) else { return XCTFail("float map") }
        guard case .unsupportedTensor? = attempt([UInt8](repeating: 0, count: 12), TensorSpec(type: .uint8, shape: [2, 2, 3, 1])) else { return XCTFail("batch 2") }
        guard case .unsupportedTensor? = attempt([UInt8](repeating: 0, count: 12), TensorSpec(type: .uint8, shape: [12])) else { return XCTFail("rank 1") }
        guard case .unsupportedTensor? = attempt([UInt8](repeating: 0, count: 12), TensorSpec(type: .float16, shape: [1, 2, 3])) else { return XCTFail("float16") }
        guard case .unsupportedTensor? = attempt([], TensorSpec(type: .uint8, shape: [1, 0, 3])) else { return XCTFail("empty") }
        guard case .invalidArgument? = attempt([UInt8](repeating: 0, count: 5), TensorSpec(type: .uint8, shape: [1, 2, 3])) else { return XCTFail("bytes") }
        let big = [Int64(1) << 40, 0].withUnsafeBytes { Array($0) }
        guard case .invalidArgument? = attempt(big, TensorSpec(type: .int64, shape: [1, 1, 2])) else { return XCTFail("overflow") }
    }

    /// DeepLab's int64 ArgMax output from LiteRT passes through unchanged (class counts from numpy's bincount).
    func testDeepLabGoldenOutputPassesThrough() throws {
        let folder = try goldenCase("deeplabv3_mnv2_dm05_pascal_quant", "cat")
        let data = try Data(contentsOf: folder.appendingPathComponent("output_0.ref.bin"))
        let map = try data.withUnsafeBytes { try SegmentationHead.classMap($0, spec: TensorSpec(type: .int64, shape: [1, 513, 513])) }
        XCTAssertEqual(map.width, 513)
        var counts = [Int](repeating: 0, count: 21)
        counts[0] = 154_597
        counts[8] = 108_572  // "cat" in pascal_voc_segmentation_labels.txt
        XCTAssertEqual(map.pixelCounts(classCount: 21), counts)
        let mask = try map.resized(width: 512, height: 341)
        XCTAssertEqual(mask.classes.count, 512 * 341)
        XCTAssertEqual(Set(mask.classes), [0, 8])
    }

    /// Scaling a class map back to the image size picks the same source cells as Pillow's NEAREST.
    func testResizedMatchesPillowNearest() throws {
        let map = SegmentationMap(width: 17, height: 13, classes: (0..<13).flatMap { y in (0..<17).map { x in Int32((x * 3 + y * 5) % 21) } })
        for r in PILReference.classMapResizes {
            let scaled = try map.resized(width: r.width, height: r.height)
            XCTAssertEqual(fnv1a64(scaled.classes.map { UInt8($0) }), r.fnv, "\(r.width)x\(r.height)")
        }
        XCTAssertEqual(try map.resized(width: 17, height: 13), map)
        XCTAssertThrowsError(try map.resized(width: 0, height: 4))
    }
}
