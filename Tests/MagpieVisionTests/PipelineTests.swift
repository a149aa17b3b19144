import Foundation
import XCTest
@testable import MagpieVision
import MagpieEngine
import MagpieModel
import MagpieTestSupport

/// A stand-in model: records the input it was given and computes its output with a closure.
final class FakeRunner: ImageModelRunner {
    let input: TensorSpec
    let output: TensorSpec
    var inputBytes: [UInt8]
    var outputBytes: [UInt8]
    var invocations = 0
    let compute: (_ input: [UInt8]) -> [UInt8]

    init(input: TensorSpec, output: TensorSpec, compute: @escaping (_ input: [UInt8]) -> [UInt8]) {
        self.input = input
        self.output = output
        self.compute = compute
        let size: (TensorSpec) -> Int = { ($0.elementCount ?? 0) * ($0.type.byteSize ?? 0) }
        inputBytes = [UInt8](repeating: 0, count: size(input))
        outputBytes = [UInt8](repeating: 0, count: size(output))
    }

    func inputSpec(at index: Int) throws -> TensorSpec {
        guard index == 0 else { throw EngineError.invalidTensorIndex(index, count: 1) }
        return input
    }

    func outputSpec(at index: Int) throws -> TensorSpec {
        guard index == 0 else { throw EngineError.invalidTensorIndex(index, count: 1) }
        return output
    }

    func withUnsafeMutableInput<R>(at index: Int, _ body: (UnsafeMutableRawBufferPointer) throws -> R) throws -> R {
        guard index == 0 else { throw EngineError.invalidTensorIndex(index, count: 1) }
        return try inputBytes.withUnsafeMutableBytes(body)
    }

    func withUnsafeOutput<R>(at index: Int, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        guard index == 0 else { throw EngineError.invalidTensorIndex(index, count: 1) }
        return try outputBytes.withUnsafeBytes(body)
    }

    func invoke() throws {
        invocations += 1
        outputBytes = compute(inputBytes)
    }
}

final class PipelineTests: XCTestCase {
    /// A "model" that scores each of R, G, B by its mean over the 4x4 input (uint8, quantized 1/255).
    private func channelMeanClassifier() -> FakeRunner {
        let q = QuantizationParameters(scales: [1.0 / 255], zeroPoints: [0])
        return FakeRunner(input: TensorSpec(type: .uint8, shape: [1, 4, 4, 3], quantization: q),
                          output: TensorSpec(type: .uint8, shape: [1, 3], quantization: q)) { input in
            (0..<3).map { c in UInt8(stride(from: c, to: input.count, by: 3).reduce(0) { $0 + Int(input[$1]) } / 16) }
        }
    }

    func testClassifierResizesFillsInvokesAndRanks() throws {
        let runner = channelMeanClassifier()
        let classifier = try ImageClassifier(runner: runner, labels: ["red", "green", "blue"])
        // 8x8, mostly blue, some green, no red.
        let image = RGBImage(width: 8, height: 8, pixels: (0..<64).flatMap { i -> [UInt8] in [0, i % 2 == 0 ? 100 : 0, 200] })
        let result = try classifier.classify(image, topK: 2)
        XCTAssertEqual(runner.invocations, 1)
        XCTAssertEqual(result.classes.map(\.label), ["blue", "green"])
        XCTAssertEqual(result.classes.map(\.index), [2, 1])
        XCTAssertEqual(result.classes[0].score, 200.0 / 255, accuracy: 1e-6)
        // The input holds the bilinear 8x8 -> 4x4 resize of the image, raw (uint8 input).
        let expectedInput = try image.resized(width: 4, height: 4).pixels
        XCTAssertEqual(runner.inputBytes, expectedInput)
        XCTAssertGreaterThanOrEqual(result.timings.inference, .zero)
        XCTAssertGreaterThanOrEqual(result.timings.total, result.timings.preprocessing)
    }

    func testFloatClassifierAppliesNormalisation() throws {
        var seen: [Float] = []
        let runner = FakeRunner(input: TensorSpec(type: .float32, shape: [1, 2, 2, 3]), output: TensorSpec(type: .float32, shape: [1, 2])) { input in
            seen = input.withUnsafeBytes { raw in (0..<12).map { raw.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self) } }
            return [Float(0.25), 0.75].withUnsafeBytes(Array.init)
        }
        let image = RGBImage(width: 2, height: 2, pixels: [UInt8](repeating: 255, count: 12))
        let classifier = try ImageClassifier(runner: runner, normalization: InputNormalization(mean: [0], std: [255]))
        XCTAssertEqual(try classifier.classify(image, topK: 1).classes, [Classification(index: 1, score: 0.75)])
        XCTAssertEqual(seen, [Float](repeating: 1, count: 12))
        classifier.normalization = nil
        _ = try classifier.classify(image)
        XCTAssertEqual(seen, [Float](repeating: 1, count: 12))  // (255 - 127.5) / 127.5
        let dark = RGBImage(width: 2, height: 2, pixels: [UInt8](repeating: 0, count: 12))
        _ = try classifier.classify(dark)
        XCTAssertEqual(seen, [Float](repeating: -1, count: 12))
    }

    func testSegmenterReturnsMapAndMask() throws {
        // Class 1 where the (resized) pixel is bright, else 0, as an int64 [1, 4, 4] ArgMax output.
        let runner = FakeRunner(input: TensorSpec(type: .uint8, shape: [1, 4, 4, 3]), output: TensorSpec(type: .int64, shape: [1, 4, 4])) { input in
            (0..<16).map { Int64(input[$0 * 3] > 128 ? 1 : 0) }.withUnsafeBytes(Array.init)
        }
        let segmenter = try ImageSegmenter(runner: runner)
        // 8x8 image, right half white.
        let image = RGBImage(width: 8, height: 8, pixels: (0..<64).flatMap { i -> [UInt8] in i % 8 >= 4 ? [255, 255, 255] : [0, 0, 0] })
        let result = try segmenter.segment(image)
        XCTAssertEqual(result.map.classes, [0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1])
        let mask = try result.mask(width: 8, height: 8)
        XCTAssertEqual(mask.classes, (0..<64).map { Int32($0 % 8 >= 4 ? 1 : 0) })
    }

    func testRejectsModelsWithoutAnImageInput() {
        let runner = FakeRunner(input: TensorSpec(type: .float32, shape: [1, 10]), output: TensorSpec(type: .float32, shape: [1, 2])) { $0 }
        XCTAssertThrowsError(try ImageClassifier(runner: runner)) { guard case .unsupportedTensor? = $0 as? VisionError else { return XCTFail() } }
        XCTAssertThrowsError(try ImageSegmenter(runner: runner)) { guard case .unsupportedTensor? = $0 as? VisionError else { return XCTFail() } }
        let int32 = FakeRunner(input: TensorSpec(type: .int32, shape: [1, 4, 4, 3]), output: TensorSpec(type: .float32, shape: [1, 2])) { $0 }
        XCTAssertThrowsError(try ImageClassifier(runner: int32)) { guard case .unsupportedTensor? = $0 as? VisionError else { return XCTFail() } }
    }

    /// With a real model: once the engine runs it, the classifier reproduces the golden input tensor and top-1.
    func testRealModelWhenTheEngineCanRunIt() throws {
        let path = try TestData.model("mobilenet_v2_1.0_224_quant.tflite")
        let golden = try goldenCase("mobilenet_v2_1.0_224_quant", "parrot")
        let interpreter: Interpreter
        do {
            interpreter = try Interpreter(modelPath: path)
        } catch let EngineError.unsupportedOperators(ops) {
            throw XCTSkip("the engine cannot run this model yet: \(ops.joined(separator: "; "))")
        }
        try interpreter.allocateTensors()
        let classifier = try ImageClassifier(runner: interpreter)
        let result = try classifier.classify(try RGBImage(contentsOfFile: try TestData.image("parrot.jpg")), topK: 5)
        let input = try interpreter.input(at: 0).data
        XCTAssertEqual(input, try Data(contentsOf: golden.appendingPathComponent("input_0.bin")))
        let reference = try XCTUnwrap(try goldenJSON(golden)["top5_ref"] as? [[String: Any]])
        XCTAssertEqual(result.classes.first?.index, reference.first?["index"] as? Int)
    }

    func testInterpreterIsARunner() {
        let type: any ImageModelRunner.Type = Interpreter.self
        XCTAssertTrue(type == Interpreter.self)
    }
}
