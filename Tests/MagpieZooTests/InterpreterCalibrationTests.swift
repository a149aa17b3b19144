import Foundation
import MagpieEngine
import MagpieModel
import MagpieTestSupport
@testable import MagpieZoo
import XCTest

/// Calibration through Magpie's own `Interpreter` (reference kernels), the path the library uses by default.
///
/// These tests need the CONV_2D, DEPTHWISE_CONV_2D, ADD, AVERAGE_POOL_2D and SOFTMAX float kernels; while the
/// engine lacks any of them they skip, naming what is missing.
final class InterpreterCalibrationTests: XCTestCase {
    /// Skips when the engine cannot run the float model yet.
    private func requireKernels() throws {
        let model = try Model(data: BuiltinModels.mobileNetV2CalibrationModel())
        do {
            _ = try Interpreter(model: model, options: .init(threadCount: 1, kernels: .reference))
        } catch let EngineError.unsupportedOperators(missing) {
            throw XCTSkip("the engine cannot run MobileNetV2 yet (\(missing.joined(separator: "; "))): calibration through Interpreter not tested")
        }
    }

    /// Magpie's calibration (default image count) agrees with LiteRT's to 0.1 % of each range, and the
    /// quantized variants built from it match the LiteRT-calibrated ones (byte for byte when every range rounds
    /// to the same scale, which the reference kernels make likely; reported either way).
    func testInterpreterCalibrationMatchesLiteRT() throws {
        try requireKernels()
        try requireLiteRT()
        let start = Date()
        let ours = try BuiltinModels.mobileNetV2ActivationRanges(calibrator: InterpreterCalibrator())
        print(String(format: "Interpreter calibration (%d images, reference kernels, debug build): %.1f s",
                     BuiltinModels.defaultCalibrationImageCount, Date().timeIntervalSince(start)))
        let theirs = try BuiltinModels.mobileNetV2ActivationRanges(calibrator: LiteRTCalibrator())
        XCTAssertEqual(ours.map(\.name), theirs.map(\.name))
        XCTAssertEqual(ours.count, 66)  // every operator output
        for (a, b) in zip(ours, theirs) {
            let span = max(b.range.upperBound - b.range.lowerBound, 1e-3)
            XCTAssertEqual(a.range.lowerBound, b.range.lowerBound, accuracy: span * 1e-3, a.name)
            XCTAssertEqual(a.range.upperBound, b.range.upperBound, accuracy: span * 1e-3, a.name)
        }
        for precision in [BuiltinModels.Precision.uint8, .int8] {
            let bytes = try BuiltinModels.mobileNetV2(precision: precision, activationRanges: ours)
            let reference = try LiteRTCalibrated.model(precision)
            print("\(precision): Interpreter-calibrated CRC-32 0x\(String(crc32(bytes), radix: 16)), LiteRT-calibrated "
                  + "0x\(String(crc32(reference), radix: 16))\(bytes == reference ? " (identical)" : "")")
            let a = try Model(data: bytes), b = try Model(data: reference)
            XCTAssertEqual(a.mainSubgraph.operators, b.mainSubgraph.operators)
            for (x, y) in zip(a.mainSubgraph.tensors, b.mainSubgraph.tensors) where x.buffer == 0 {
                let qx = try XCTUnwrap(x.quantization), qy = try XCTUnwrap(y.quantization)
                XCTAssertEqual(qx.scale, qy.scale, accuracy: qy.scale * 2e-3, x.name)
                XCTAssertLessThanOrEqual(abs(qx.zeroPoint - qy.zeroPoint), 1, x.name)
            }
        }
    }

    /// The default path (`InterpreterCalibrator` inside `mobileNetV2(precision:)`), with one calibration image to
    /// keep the debug-build test short: the quantized models run in LiteRT and agree with float on a decisive image.
    func testDefaultQuantizedBuildsRunInLiteRTAndMatchFloat() throws {
        try requireKernels()
        try requireLiteRT()
        let image = SyntheticImages.image(index: 0, seed: 0x7E57)
        let p = Bytes.floats(try runInLiteRT(try BuiltinModels.mobileNetV2(precision: .float32),
                                             input: Bytes.of(SyntheticImages.normalized(image))))
        for precision in [BuiltinModels.Precision.uint8, .int8] {
            let bytes = try BuiltinModels.mobileNetV2(precision: precision, calibrationImageCount: 1)
            let model = try Model(data: bytes)
            XCTAssertEqual(model.mainSubgraph.operators.count, 66)
            let raw = try runInLiteRT(bytes, input: precision == .uint8 ? image : image.map { $0 ^ 0x80 })
            let q = raw.map { precision == .uint8 ? Float($0) / 256 : (Float(Int8(bitPattern: $0)) + 128) / 256 }
            XCTAssertTrue(argmaxes(q).all.contains(argmaxes(p).first), "\(precision)")
        }
    }

    func testRangesFromAnotherGraphAreRefused() throws {
        let wrong = [BuiltinModels.ActivationRange(name: "x", range: 0...1)]
        XCTAssertThrowsError(try BuiltinModels.mobileNetV2(precision: .uint8, activationRanges: wrong)) { error in
            XCTAssertEqual(error as? BuiltinModelError, .calibrationFailed("the activation ranges do not belong to this graph"))
        }
    }

    func testFloatModelRunsInTheInterpreterLikeLiteRT() throws {
        try requireKernels()
        try requireLiteRT()
        let bytes = try BuiltinModels.mobileNetV2(precision: .float32)
        let input = SyntheticImages.normalized(SyntheticImages.image(index: 1, seed: 0x7E57))
        let interpreter = try Interpreter(model: try Model(data: bytes), options: .init(threadCount: 1, kernels: .reference))
        try interpreter.allocateTensors()
        try interpreter.copy(Data(Bytes.of(input)), toInputAt: 0)
        try interpreter.invoke()
        let ours = Bytes.floats(Array(try interpreter.output(at: 0).data))
        let theirs = Bytes.floats(try runInLiteRT(bytes, input: Bytes.of(input)))
        let maxError = zip(ours, theirs).map { abs($0 - $1) }.max()!
        XCTAssertLessThan(maxError, 1e-4)
        XCTAssertEqual(argmaxes(ours).first, argmaxes(theirs).first)
    }
}

/// The built quantized models in Magpie's own engine against LiteRT, end to end (one image each): the reference
/// kernels are meant to be bit-exact with LiteRT 2.3.0's.
final class QuantizedModelsInInterpreterTests: XCTestCase {
    private func compare(_ precision: BuiltinModels.Precision) throws -> (ours: [UInt8], theirs: [UInt8]) {
        try requireLiteRT()
        let image = SyntheticImages.image(index: 3, seed: 0x7E57)
        let bytes = try LiteRTCalibrated.model(precision)
        let input = precision == .uint8 ? image : image.map { $0 ^ 0x80 }
        let interpreter: Interpreter
        do {
            interpreter = try Interpreter(model: try Model(data: bytes), options: .init(threadCount: 1, kernels: .reference))
        } catch let EngineError.unsupportedOperators(missing) {
            throw XCTSkip("the engine cannot run the \(precision) model yet: \(missing.joined(separator: "; "))")
        }
        try interpreter.allocateTensors()
        try interpreter.copy(Data(input), toInputAt: 0)
        try interpreter.invoke()
        let ours = Array(try interpreter.output(at: 0).data)
        let theirs = try runInLiteRT(bytes, input: input)
        let differences = zip(ours, theirs).map { abs(Int($0) - Int($1)) }
        print("\(precision): Magpie vs LiteRT output, max difference \(differences.max()!) LSB, "
              + "\(differences.filter { $0 != 0 }.count) of 1001 differ")
        return (ours, theirs)
    }

    func testInt8VariantMatchesLiteRTBitForBit() throws {
        let (ours, theirs) = try compare(.int8)
        XCTAssertEqual(ours, theirs)
    }

    /// uint8 CONV_2D / DEPTHWISE_CONV_2D need the output multiplier from the float product of scales, as LiteRT's
    /// legacy path (`GetQuantizedConvolutionMultipler`); this model hits a rounding tie where the double product
    /// gives a different result (op 1: accumulator 20419, 208 in LiteRT). Fixed on main in f488b05.
    func testUInt8VariantMatchesLiteRTBitForBit() throws {
        let (ours, theirs) = try compare(.uint8)
        XCTAssertEqual(ours, theirs)
    }
}
