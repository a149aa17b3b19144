import Foundation
import MagpieModel
import MagpieTestSupport
@testable import MagpieZoo
import XCTest

/// The three variants in LiteRT's reference kernels (skipped without python3 + ai-edge-litert). The quantized
/// variants are calibrated through LiteRT here, so these checks do not depend on Magpie's kernels.
final class MobileNetV2LiteRTTests: XCTestCase {
    /// Test images: a different seed from the calibration images, every kind at least once.
    static let testImages: [[UInt8]] = (0..<8).map { SyntheticImages.image(index: $0, seed: 0x7E57) }

    static func floatProbabilities(_ image: [UInt8]) throws -> [Float] {
        let bytes = try BuiltinModels.mobileNetV2(precision: .float32)
        return Bytes.floats(try runInLiteRT(bytes, input: Bytes.of(SyntheticImages.normalized(image))))
    }

    func testFloatModelGivesANonDegenerateSoftmax() throws {
        try requireLiteRT()
        var winners = Set<Int>()
        for (k, image) in Self.testImages.enumerated() {
            let p = try Self.floatProbabilities(image)
            XCTAssertEqual(p.count, 1001)
            XCTAssertEqual(Double(p.reduce(0, +)), 1, accuracy: 1e-3)
            let top = argmaxes(p).first
            let sorted = p.sorted(by: >)
            let entropy = -p.reduce(0.0) { $0 + ($1 > 0 ? Double($1) * log(Double($1)) : 0) }
            print(String(format: "float image %d: top-1 %d p=%.3f, second %.3f, entropy %.2f nats (uniform: %.2f)",
                         k, top, sorted[0], sorted[1], entropy, log(1001.0)))
            XCTAssertGreaterThan(sorted[0], 0.01, "image \(k): softmax is nearly flat")
            XCTAssertLessThan(sorted[0], 0.95, "image \(k): softmax is nearly one-hot")
            XCTAssertLessThan(entropy, log(1001.0) - 0.5)
            winners.insert(top)
        }
        print("float top-1 classes over \(Self.testImages.count) images: \(winners.sorted())")
    }

    func testUInt8VariantStructureAndQuantization() throws {
        try requireLiteRT()
        let model = try Model(data: try LiteRTCalibrated.model(.uint8))
        let g = model.mainSubgraph
        XCTAssertEqual(g.operators.count, 66)
        let input = g.tensors[g.inputs[0]], output = g.tensors[g.outputs[0]]
        XCTAssertEqual(input.type, .uint8)
        XCTAssertEqual(input.quantization, QuantizationParameters(scales: [1.0 / 128], zeroPoints: [128]))
        XCTAssertEqual(output.type, .uint8)
        XCTAssertEqual(output.quantization, QuantizationParameters(scales: [1.0 / 256], zeroPoints: [0]))
        try checkConvolutionQuantization(model, weightType: .uint8)
        XCTAssertEqual(ModelStatistics(model: model).parameterCount, 3_489_097)
    }

    func testInt8VariantStructureAndQuantization() throws {
        try requireLiteRT()
        let model = try Model(data: try LiteRTCalibrated.model(.int8))
        let g = model.mainSubgraph
        XCTAssertEqual(g.operators.count, 66)
        let input = g.tensors[g.inputs[0]], output = g.tensors[g.outputs[0]]
        XCTAssertEqual(input.type, .int8)
        XCTAssertEqual(input.quantization, QuantizationParameters(scales: [1.0 / 128], zeroPoints: [0]))
        XCTAssertEqual(output.type, .int8)
        XCTAssertEqual(output.quantization, QuantizationParameters(scales: [1.0 / 256], zeroPoints: [-128]))
        try checkConvolutionQuantization(model, weightType: .int8)
        XCTAssertEqual(Dictionary(uniqueKeysWithValues: model.operatorCodes.map { ($0.builtin.name, $0.version) }),
                       ["CONV_2D": 3, "DEPTHWISE_CONV_2D": 3, "ADD": 2, "AVERAGE_POOL_2D": 2, "RESHAPE": 1, "SOFTMAX": 2])
    }

    /// Every activation is 8-bit with a positive scale; RELU6 outputs start at 0 and end by 6; pooling and reshape
    /// keep their input's parameters; weights and biases follow the precision's scheme with bias scale =
    /// input scale × weight scale.
    private func checkConvolutionQuantization(_ model: Model, weightType: TensorType) throws {
        let g = model.mainSubgraph
        let (qmin, _) = Quantizer.range(of: weightType)
        for (i, op) in g.operators.enumerated() {
            let builtin = model.operatorCode(of: op).builtin
            let out = g.tensors[op.outputs[0]]
            let q = try XCTUnwrap(out.quantization, "op \(i) output")
            XCTAssertEqual(out.type, weightType)
            XCTAssertEqual(q.scales.count, 1)
            XCTAssertGreaterThan(q.scale, 0)
            switch builtin {
            case .conv2D, .depthwiseConv2D:
                let x = g.tensors[op.inputs[0]], w = g.tensors[op.inputs[1]], b = g.tensors[op.inputs[2]]
                let wq = try XCTUnwrap(w.quantization), bq = try XCTUnwrap(b.quantization)
                XCTAssertEqual(w.type, weightType)
                XCTAssertEqual(b.type, .int32)
                let channels = w.shape[builtin == .conv2D ? 0 : 3]
                if weightType == .int8 {
                    XCTAssertEqual(wq.scales.count, channels, "op \(i) per-channel scales")
                    XCTAssertEqual(wq.quantizedDimension, builtin == .conv2D ? 0 : 3)
                    XCTAssertTrue(wq.zeroPoints.allSatisfy { $0 == 0 })
                    let values = Array(model.data(ofBuffer: w.buffer)).map { Int8(bitPattern: $0) }
                    XCTAssertFalse(values.contains(-128), "symmetric weights stay in [-127, 127]")
                    XCTAssertTrue(values.contains(127) || values.contains(-127))
                } else {
                    XCTAssertEqual(wq.scales.count, 1)
                }
                XCTAssertEqual(bq.scales.count, wq.scales.count)
                for (bs, ws) in zip(bq.scales, wq.scales) {
                    XCTAssertEqual(bs, x.quantization!.scale * ws, accuracy: bs * 1e-6, "op \(i) bias scale")
                }
                let relu6: Bool
                switch op.options {
                case let .conv2D(o): relu6 = o.activation == .relu6
                case let .depthwiseConv2D(o): relu6 = o.activation == .relu6
                default: relu6 = false
                }
                if relu6 {
                    XCTAssertEqual(q.zeroPoint, qmin, "op \(i): RELU6 output range starts at 0")
                    XCTAssertLessThanOrEqual(q.scale * 255, 6.0001, "op \(i): RELU6 output range ends by 6")
                }
            case .averagePool2D, .reshape:
                XCTAssertEqual(q, g.tensors[op.inputs[0]].quantization, "op \(i) keeps its input's quantization")
            default:
                break
            }
        }
    }

    /// The quantized variants agree with the float model: same top-1 class wherever the float model is decisive
    /// (its top two probabilities differ by a factor of at least e^0.2 ≈ 1.22; closer calls can flip under 8-bit
    /// noise, as they do in real post-training quantization), and otherwise each model's top-1 is in the other's
    /// top 5. Probabilities stay close except where the largest logit exceeds the calibrated range and is clipped.
    func testQuantizedVariantsAgreeWithFloatOnTopOne() throws {
        try requireLiteRT()
        let floats = try Self.testImages.map { try Self.floatProbabilities($0) }
        let decisive = floats.map { p -> Bool in
            let sorted = p.sorted(by: >)
            return log(Double(sorted[0]) / Double(sorted[1])) >= 0.2
        }
        XCTAssertGreaterThanOrEqual(decisive.filter { $0 }.count, 4, "too few decisive test images for a meaningful check")
        for precision in [BuiltinModels.Precision.uint8, .int8] {
            let bytes = try LiteRTCalibrated.model(precision)
            var agreed = 0, meanError = 0.0
            for (k, image) in Self.testImages.enumerated() {
                let p = floats[k]
                let floatTop = argmaxes(p).first
                let input = precision == .uint8 ? image : image.map { $0 ^ 0x80 }
                let raw = try runInLiteRT(bytes, input: input)
                let q = raw.map { precision == .uint8 ? Float($0) / 256 : (Float(Int8(bitPattern: $0)) + 128) / 256 }
                let (quantTop, ties) = argmaxes(q)
                let maxError = zip(p, q).map { abs($0 - $1) }.max()!
                meanError += Double(maxError) / Double(Self.testImages.count)
                let sorted = p.sorted(by: >)
                print(String(format: "%@ image %d: float top-1 %d (p=%.3f, runner-up %.3f%@), quantized top-1 %d (p=%.3f, %d tied), max |Δp| %.4f",
                             precision.rawValue, k, floatTop, sorted[0], sorted[1], decisive[k] ? "" : ", not decisive",
                             quantTop, q[quantTop], ties.count, maxError))
                if ties.contains(floatTop) { agreed += 1 }
                if decisive[k] {
                    XCTAssertTrue(ties.contains(floatTop), "\(precision) image \(k): float top-1 \(floatTop) not among quantized top \(ties)")
                }
                let floatTop5 = p.indices.sorted { p[$0] > p[$1] }.prefix(5)
                let quantTop5 = q.indices.sorted { q[$0] > q[$1] }.prefix(5)
                XCTAssertTrue(floatTop5.contains(quantTop), "\(precision) image \(k): quantized top-1 not in float top-5")
                XCTAssertTrue(quantTop5.contains(floatTop) || ties.count > 5, "\(precision) image \(k): float top-1 not in quantized top-5")
            }
            print(String(format: "%@: top-1 agrees on %d of %d images; mean max |Δp| %.4f", precision.rawValue, agreed,
                         Self.testImages.count, meanError))
            XCTAssertLessThan(meanError, 0.1, "\(precision)")
        }
    }

    func testQuantizedBuildsAreDeterministic() throws {
        try requireLiteRT()
        for precision in [BuiltinModels.Precision.uint8, .int8] {
            let first = try LiteRTCalibrated.model(precision)
            let second = try BuiltinModels.mobileNetV2(precision: precision, calibrator: LiteRTCalibrator(cached: false))
            XCTAssertEqual(crc32(first), crc32(second), "\(precision)")
            print("\(precision) MobileNetV2 (LiteRT-calibrated): \(first.count) bytes, CRC-32 0x\(String(crc32(first), radix: 16))")
        }
    }
}
