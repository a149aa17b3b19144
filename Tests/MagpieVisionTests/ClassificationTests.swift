import Foundation
import XCTest
@testable import MagpieVision
import MagpieModel
import MagpieTestSupport

final class ClassificationTests: XCTestCase {
    func testTopKOrdersByScoreThenIndex() {
        let scores: [Float] = [0.1, 0.7, 0.2, 0.7, -1, 0.2, 0.9]
        let top = ClassificationHead.topK(scores, k: 5)
        XCTAssertEqual(top.map(\.index), [6, 1, 3, 2, 5])
        XCTAssertEqual(top.map(\.score), [0.9, 0.7, 0.7, 0.2, 0.2])
        XCTAssertEqual(ClassificationHead.topK(scores, k: 100).map(\.index), [6, 1, 3, 2, 5, 0, 4])
        XCTAssertEqual(ClassificationHead.topK(scores, k: 1).map(\.index), [6])
        XCTAssertTrue(ClassificationHead.topK(scores, k: 0).isEmpty)
        XCTAssertTrue(ClassificationHead.topK(scores, k: -3).isEmpty)
        XCTAssertTrue(ClassificationHead.topK([], k: 3).isEmpty)
        // All equal: index order.
        XCTAssertEqual(ClassificationHead.topK([Float](repeating: 0.5, count: 10), k: 4).map(\.index), [0, 1, 2, 3])
    }

    func testNaNRanksLast() {
        let scores: [Float] = [.nan, 0.3, -.infinity, .nan, 2]
        XCTAssertEqual(ClassificationHead.topK(scores, k: 5).map(\.index), [4, 1, 2, 0, 3])
        XCTAssertEqual(ClassificationHead.topK(scores, k: 3).map(\.index), [4, 1, 2])
    }

    func testLabelsAreAttachedWhenAvailable() {
        let top = ClassificationHead.topK([0.2, 0.5, 0.3], k: 3, labels: ["cat", "dog"])
        XCTAssertEqual(top, [Classification(index: 1, score: 0.5, label: "dog"), Classification(index: 2, score: 0.3, label: nil),
                             Classification(index: 0, score: 0.2, label: "cat")])
    }

    func testDequantization() throws {
        let u8 = TensorSpec(type: .uint8, shape: [1, 4], quantization: QuantizationParameters(scales: [0.5], zeroPoints: [10]))
        XCTAssertEqual(try [UInt8]([10, 0, 255, 12]).withUnsafeBytes { try ClassificationHead.dequantize($0, spec: u8) }, [0, -5, 122.5, 1])
        let i8 = TensorSpec(type: .int8, shape: [3], quantization: QuantizationParameters(scales: [0.25], zeroPoints: [-128]))
        XCTAssertEqual(try [Int8]([-128, 127, 0]).withUnsafeBytes { try ClassificationHead.dequantize($0, spec: i8) }, [0, 63.75, 32])
        let f32 = TensorSpec(type: .float32, shape: [1, 3])
        XCTAssertEqual(try [Float]([0.25, -1, 3e7]).withUnsafeBytes { try ClassificationHead.dequantize($0, spec: f32) }, [0.25, -1, 3e7])
        let i16 = TensorSpec(type: .int16, shape: [2], quantization: QuantizationParameters(scales: [0.001], zeroPoints: [0]))
        XCTAssertEqual(try [Int16]([1000, -32768]).withUnsafeBytes { try ClassificationHead.dequantize($0, spec: i16) }, [1, -32.768])
        // Raw integers without quantization (or with a zero scale).
        let raw = TensorSpec(type: .uint8, shape: [2], quantization: QuantizationParameters(scales: [0], zeroPoints: [0]))
        XCTAssertEqual(try [UInt8]([7, 200]).withUnsafeBytes { try ClassificationHead.dequantize($0, spec: raw) }, [7, 200])
        // Quantized ranking follows the dequantized scores.
        let top = try [UInt8]([3, 200, 17, 200]).withUnsafeBytes { try ClassificationHead.topK($0, spec: TensorSpec(type: .uint8, shape: [1, 4], quantization: QuantizationParameters(scales: [1.0 / 256], zeroPoints: [0])), k: 2) }
        XCTAssertEqual(top, [Classification(index: 1, score: 200.0 / 256), Classification(index: 3, score: 200.0 / 256)])
    }

    func testDequantizationErrors() {
        XCTAssertThrowsError(try [UInt8](repeating: 0, count: 3).withUnsafeBytes {
            try ClassificationHead.dequantize($0, spec: TensorSpec(type: .uint8, shape: [1, 4]))
        }) { XCTAssertTrue($0 is VisionError) }
        XCTAssertThrowsError(try [UInt8](repeating: 0, count: 8).withUnsafeBytes {
            try ClassificationHead.dequantize($0, spec: TensorSpec(type: .float16, shape: [4]))
        }) { guard case .unsupportedTensor? = $0 as? VisionError else { return XCTFail() } }
        XCTAssertThrowsError(try [UInt8](repeating: 0, count: 2).withUnsafeBytes {
            try ClassificationHead.dequantize($0, spec: TensorSpec(type: .uint8, shape: [2], quantization: QuantizationParameters(scales: [1, 2], zeroPoints: [0, 0])))
        }) { guard case .unsupportedTensor? = $0 as? VisionError else { return XCTFail() } }
    }

    /// Top-5 of LiteRT's own outputs equals the golden top-5 (numpy stable argsort of the dequantized scores).
    func testTopFiveOfGoldenOutputsMatchesTheReference() throws {
        let labels = try Labels.load(contentsOfFile: try TestData.require().appendingPathComponent("labels/imagenet_labels.txt").path)
        XCTAssertEqual(labels.count, 1001)
        XCTAssertEqual(labels[0], "background")
        var checked = 0
        for model in ["mobilenet_v2_1.0_224_quant", "mobilenet_v1_0.25_128_quant", "tf2_mobilenet_v2_1.0_224_ptq",
                      "mobilenet_v2_1.0_224_float", "mobilenet_v1_0.25_128_float"] {
            for name in ["parrot", "cat", "grace_hopper", "bird", "random"] {
                guard let folder = try? goldenCase(model, name) else { continue }
                let json = try goldenJSON(folder)
                guard let reference = json["top5_ref"] as? [[String: Any]],
                      let output = (json["outputs"] as? [[String: Any]])?.first else { continue }
                let spec = try outputSpec(output)
                let data = try Data(contentsOf: folder.appendingPathComponent("output_0.ref.bin"))
                let top = try data.withUnsafeBytes { try ClassificationHead.topK($0, spec: spec, k: 5, labels: labels) }
                XCTAssertEqual(top.map(\.index), reference.map { $0["index"] as? Int ?? -1 }, "\(model)/\(name)")
                for (mine, theirs) in zip(top, reference) {
                    XCTAssertEqual(Double(mine.score), theirs["score"] as? Double ?? .nan, accuracy: 1e-6, "\(model)/\(name)")
                    XCTAssertEqual(mine.label, labels[mine.index])
                }
                checked += 1
            }
        }
        if checked == 0 { throw XCTSkip("no classification goldens found") }
    }

    func testLabelParsing() {
        XCTAssertEqual(Labels.parse("a\nb b\r\nc\n\n  \n"), ["a", "b b", "c"])
        XCTAssertEqual(Labels.parse("x\n\ny"), ["x", "", "y"])
        XCTAssertEqual(Labels.parse(""), [])
        XCTAssertThrowsError(try Labels.load(contentsOfFile: "/nonexistent/labels.txt")) {
            guard case .unreadableFile? = $0 as? VisionError else { return XCTFail() }
        }
    }

    private func outputSpec(_ json: [String: Any]) throws -> TensorSpec {
        let types: [String: TensorType] = ["uint8": .uint8, "int8": .int8, "float32": .float32, "int64": .int64, "int32": .int32]
        let type = try XCTUnwrap(types[json["dtype"] as? String ?? ""])
        let q = json["quantization"] as? [String: Any]
        let scales = (q?["scales"] as? [Double] ?? []).map(Float.init)
        let zeros = (q?["zero_points"] as? [Int] ?? []).map(Int64.init)
        return TensorSpec(type: type, shape: try XCTUnwrap(json["shape"] as? [Int]),
                          quantization: scales.isEmpty ? nil : QuantizationParameters(scales: scales, zeroPoints: zeros))
    }
}
