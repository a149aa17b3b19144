import Foundation
import MagpieModel
import MagpieTestSupport
@testable import MagpieZoo
import XCTest

/// Checks of the float model that need no kernel: layout, shapes, counts, determinism, weight scale.
final class MobileNetV2StructureTests: XCTestCase {
    static let floatBytes: [UInt8] = try! BuiltinModels.mobileNetV2(precision: .float32)

    func testFloatModelParsesWithTheMobileNetV2Layout() throws {
        let model = try Model(data: Self.floatBytes)
        let g = model.mainSubgraph
        XCTAssertEqual(model.subgraphs.count, 1)
        XCTAssertEqual(g.operators.count, 66)
        let stats = ModelStatistics(model: model)
        XCTAssertEqual(stats.operatorHistogram, ["CONV_2D": 36, "DEPTHWISE_CONV_2D": 17, "ADD": 10,
                                                 "AVERAGE_POOL_2D": 1, "RESHAPE": 1, "SOFTMAX": 1])
        XCTAssertEqual(g.inputs.count, 1)
        XCTAssertEqual(g.outputs.count, 1)
        XCTAssertEqual(g.tensors[g.inputs[0]].shape, [1, 224, 224, 3])
        XCTAssertEqual(g.tensors[g.inputs[0]].type, .float32)
        XCTAssertEqual(g.tensors[g.outputs[0]].shape, [1, 1001])
        XCTAssertEqual(g.tensors[g.outputs[0]].type, .float32)
        XCTAssertTrue(model.modelDescription?.contains(BuiltinModels.note) ?? false)
        XCTAssertEqual(model.operatorCodes.map(\.version), [1, 1, 1, 1, 1, 1])
    }

    func testParameterAndMultiplyAccumulateCountsMatchMobileNetV2() throws {
        let stats = ModelStatistics(model: try Model(data: Self.floatBytes))
        // Keras' 3,538,984 counts unfolded batch-norm and 1000 classes; folded with 1001 classes it is 3,489,097.
        XCTAssertEqual(stats.parameterCount, 3_489_097)
        XCTAssertEqual(stats.constantElementCount, 3_489_099)  // plus RESHAPE's 2-element shape
        XCTAssertEqual(stats.parameterByteCount, 3_489_097 * 4)
        XCTAssertEqual(stats.multiplyAccumulateCount, 300_775_552)
    }

    /// Walks the graph checking every shape against what the operator computes from its input and options.
    func testShapesChainThroughTheGraph() throws {
        let model = try Model(data: Self.floatBytes)
        let g = model.mainSubgraph
        var produced = Set(g.inputs)
        for (i, op) in g.operators.enumerated() {
            let name = model.operatorCode(of: op).builtin
            let x = g.tensors[op.inputs[0]].shape
            let y = g.tensors[op.outputs[0]].shape
            XCTAssertTrue(produced.contains(op.inputs[0]), "op \(i) reads a tensor nothing wrote")
            for t in op.inputs.dropFirst() where name != .add {
                XCTAssertGreaterThan(g.tensors[t].buffer, 0, "op \(i) input \(t) should be constant")
            }
            func same(_ stride: Int) -> Int { (x[1] + stride - 1) / stride }
            switch (name, op.options) {
            case let (.conv2D, .conv2D(o)):
                let f = g.tensors[op.inputs[1]].shape
                XCTAssertEqual(o.padding, .same)
                XCTAssertEqual(f[3], x[3], "op \(i) filter depth")
                XCTAssertEqual(y, [1, same(o.strideHeight), same(o.strideWidth), f[0]], "op \(i)")
                XCTAssertEqual(g.tensors[op.inputs[2]].shape, [f[0]])
            case let (.depthwiseConv2D, .depthwiseConv2D(o)):
                let f = g.tensors[op.inputs[1]].shape
                XCTAssertEqual(f, [1, 3, 3, x[3]], "op \(i)")
                XCTAssertEqual(o.activation, .relu6)
                XCTAssertEqual(y, [1, same(o.strideHeight), same(o.strideWidth), x[3]], "op \(i)")
            case (.add, _):
                XCTAssertEqual(g.tensors[op.inputs[1]].shape, x)
                XCTAssertTrue(produced.contains(op.inputs[1]))
                XCTAssertEqual(y, x)
            case let (.averagePool2D, .pool2D(o)):
                XCTAssertEqual(o.padding, .valid)
                XCTAssertEqual([o.filterHeight, o.filterWidth], [7, 7])
                XCTAssertEqual(x, [1, 7, 7, 1280])
                XCTAssertEqual(y, [1, 1, 1, 1280])
            case (.reshape, _):
                XCTAssertEqual(x, [1, 1, 1, 1001])
                XCTAssertEqual(y, [1, 1001])
                XCTAssertEqual(Bytes.array(Array(model.data(ofBuffer: g.tensors[op.inputs[1]].buffer)), as: Int32.self), [1, 1001])
            case let (.softmax, .softmax(beta)):
                XCTAssertEqual(beta, 1)
                XCTAssertEqual(y, x)
            default:
                XCTFail("op \(i): unexpected \(name) with \(op.options)")
            }
            produced.formUnion(op.outputs)
        }
        XCTAssertTrue(produced.contains(g.outputs[0]))
    }

    /// The strongest check of the architecture: operator for operator, the same kinds, options and tensor shapes
    /// as the Coral/TF model (skipped without the shared test data).
    func testLayoutMatchesTheCoralModelOperatorForOperator() throws {
        let coral = try Model(contentsOfFile: try TestData.model("mobilenet_v2_1.0_224_quant.tflite"))
        let ours = try Model(data: Self.floatBytes)
        let a = coral.mainSubgraph, b = ours.mainSubgraph
        XCTAssertEqual(a.operators.count, b.operators.count)
        for (i, (x, y)) in zip(a.operators, b.operators).enumerated() {
            XCTAssertEqual(coral.operatorCode(of: x).builtin, ours.operatorCode(of: y).builtin, "op \(i)")
            XCTAssertEqual(x.options, y.options, "op \(i) options")
            XCTAssertEqual(x.inputs.map { a.tensors[$0].shape }, y.inputs.map { b.tensors[$0].shape }, "op \(i) input shapes")
            XCTAssertEqual(x.outputs.map { a.tensors[$0].shape }, y.outputs.map { b.tensors[$0].shape }, "op \(i) output shapes")
        }
        let coralStats = ModelStatistics(model: coral), ourStats = ModelStatistics(model: ours)
        XCTAssertEqual(coralStats.parameterCount, ourStats.parameterCount)
        XCTAssertEqual(coralStats.multiplyAccumulateCount, ourStats.multiplyAccumulateCount)
        XCTAssertEqual(coralStats.operatorMultiplyAccumulates, ourStats.operatorMultiplyAccumulates)
    }

    func testSameSeedGivesSameBytesAndOtherSeedsDiffer() throws {
        let again = try BuiltinModels.mobileNetV2(precision: .float32)
        XCTAssertEqual(crc32(again), crc32(Self.floatBytes))
        XCTAssertEqual(again, Self.floatBytes)
        let other = try BuiltinModels.mobileNetV2(precision: .float32, seed: 7)
        XCTAssertNotEqual(other, Self.floatBytes)
    }

    /// Pins the default float model, so that a change of the generator, the initialisation or the writer, or a
    /// platform that rounds differently, is noticed. Update the constant only for an intended change.
    func testDefaultFloatModelFingerprint() throws {
        print("float32 MobileNetV2: \(Self.floatBytes.count) bytes, CRC-32 0x\(String(crc32(Self.floatBytes), radix: 16))")
        XCTAssertEqual(Self.floatBytes.count, Self.expectedFloatSize)
        XCTAssertEqual(crc32(Self.floatBytes), Self.expectedFloatCRC)
    }
    static let expectedFloatSize = 13_982_992
    static let expectedFloatCRC: UInt32 = 0x08EB_0199

    func testFloatGenerationTime() throws {
        let start = Date()
        _ = try BuiltinModels.mobileNetV2(precision: .float32)
        let seconds = Date().timeIntervalSince(start)
        print(String(format: "float32 MobileNetV2 generated in %.3f s (debug build)", seconds))
        // Debug builds are many times slower than release; this bound only catches a pathological slowdown.
        XCTAssertLessThan(seconds, 10)
    }

    /// The weights follow the documented initialisation. For the first layer the input statistics are exact
    /// (mean 0, variance 1/3 per channel), so each output channel's filter has RMS exactly τγ/√(27/3) = 0.5 γ
    /// with γ in [0.6, 1.4], and its bias is β = τγ + a uniform part of at most √3 · 0.1 · 1.5.
    func testWeightsHaveTheDocumentedScale() throws {
        let net = MobileNetV2Network(seed: BuiltinModels.defaultSeed)
        XCTAssertEqual(net.convolutions.count, 53)
        let first = net.convolutions[0]
        var rmsValues: [Double] = []
        for o in 0..<32 {
            let filter = first.weights[(o * 27)..<((o + 1) * 27)].map(Double.init)
            let rms = (filter.map { $0 * $0 }.reduce(0, +) / 27).squareRoot()
            XCTAssertTrue((0.5 * 0.6 - 1e-5)...(0.5 * 1.4 + 1e-5) ~= rms, "channel \(o) RMS \(rms)")
            let gamma = rms / 0.5
            XCTAssertLessThanOrEqual(abs(Double(first.bias[o]) - 1.5 * gamma), 3.0.squareRoot() * 0.15 + 1e-5, "channel \(o) bias")
            rmsValues.append(rms)
        }
        XCTAssertGreaterThan(rmsValues.max()! - rmsValues.min()!, 0.1, "γ should vary across channels")
        for layer in net.convolutions {
            XCTAssertEqual(layer.weights.count, layer.filterShape.reduce(1, *))
            XCTAssertEqual(layer.bias.count, layer.outputChannels)
            XCTAssertTrue(layer.weights.allSatisfy(\.isFinite))
            XCTAssertTrue(layer.bias.allSatisfy(\.isFinite))
            XCTAssertTrue(layer.weights.contains { $0 != 0 })
        }
    }

    func testCatalogueNamesTheThreeVariants() throws {
        XCTAssertEqual(BuiltinModels.catalog.map(\.precision), [.float32, .uint8, .int8])
        XCTAssertEqual(try BuiltinModels.model(named: "mobilenet_v2_1.0_224"), Self.floatBytes)
        XCTAssertThrowsError(try BuiltinModels.model(named: "resnet50")) { error in
            XCTAssertEqual(error as? BuiltinModelError, .unknownModel("resnet50"))
        }
    }

    func testWriteToFile() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("magpie-zoo-\(UUID().uuidString).tflite")
        defer { try? FileManager.default.removeItem(at: url) }
        try BuiltinModels.writeMobileNetV2(precision: .float32, to: url.path)
        XCTAssertEqual(Array(try Data(contentsOf: url)), Self.floatBytes)
    }

    func testCalibrationModelExposesEveryActivation() throws {
        let model = try Model(data: BuiltinModels.mobileNetV2CalibrationModel())
        let g = model.mainSubgraph
        // Every operator output is a graph output, in execution order, the softmax last.
        XCTAssertEqual(g.outputs, g.operators.map { $0.outputs[0] })
        XCTAssertEqual(g.outputs.count, 66)
    }
}

final class SplitMix64Tests: XCTestCase {
    func testMatchesTheReferenceSequence() {
        var rng = SplitMix64(seed: 0)
        XCTAssertEqual(rng.next(), 0xE220_A839_7B1D_CDAF)
        XCTAssertEqual(rng.next(), 0x6E78_9E6A_A1B9_65F4)
        XCTAssertEqual(rng.next(), 0x06C4_5D18_8009_454F)
    }

    func testFloatsStayInRangeWithTheRightMoments() {
        var rng = SplitMix64(seed: 42, stream: 3)
        var sum = 0.0, sumSquares = 0.0
        let n = 100_000
        for _ in 0..<n {
            let u = rng.nextSignedUnitFloat()
            XCTAssertTrue(u >= -1 && u < 1)
            sum += Double(u); sumSquares += Double(u * u)
        }
        XCTAssertEqual(sum / Double(n), 0, accuracy: 0.01)
        XCTAssertEqual(sumSquares / Double(n), 1.0 / 3.0, accuracy: 0.01)
        for _ in 0..<1000 {
            let v = rng.nextInt(in: -3...5)
            XCTAssertTrue((-3...5).contains(v))
        }
    }

    func testStreamsDiffer() {
        var a = SplitMix64(seed: 1, stream: 0), b = SplitMix64(seed: 1, stream: 1)
        XCTAssertNotEqual(a.next(), b.next())
    }

    func testSyntheticImagesAreDeterministicAndVaried() {
        let images = (0..<5).map { SyntheticImages.image(index: $0, seed: 9) }
        XCTAssertEqual(images[0], SyntheticImages.image(index: 0, seed: 9))
        for image in images {
            XCTAssertEqual(image.count, 224 * 224 * 3)
            XCTAssertGreaterThan(Set(image).count, 1)
        }
        XCTAssertEqual(Set(images).count, 5)
        XCTAssertEqual(SyntheticImages.integerSquareRoot(99), 9)
        XCTAssertEqual(SyntheticImages.integerSquareRoot(100), 10)
    }
}
