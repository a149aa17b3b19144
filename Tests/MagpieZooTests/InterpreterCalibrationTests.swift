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

    func testInterpreterCalibrationMatchesLiteRT() throws {
        try requireKernels()
        try requireLiteRT()
        let count = 1
        let ours = try BuiltinModels.mobileNetV2ActivationRanges(calibrator: InterpreterCalibrator(), calibrationImageCount: count)
        let theirs = try BuiltinModels.mobileNetV2ActivationRanges(calibrator: LiteRTCalibrator(), calibrationImageCount: count)
        XCTAssertEqual(ours.map(\.name), theirs.map(\.name))
        for (a, b) in zip(ours, theirs) {
            let span = max(b.range.upperBound - b.range.lowerBound, 1e-3)
            XCTAssertEqual(a.range.lowerBound, b.range.lowerBound, accuracy: span * 1e-3, a.name)
            XCTAssertEqual(a.range.upperBound, b.range.upperBound, accuracy: span * 1e-3, a.name)
        }
    }

    func testDefaultQuantizedBuildsRunInLiteRTAndMatchFloat() throws {
        try requireKernels()
        try requireLiteRT()
        let image = SyntheticImages.image(index: 2, seed: 0x7E57)
        let p = Bytes.floats(try runInLiteRT(try BuiltinModels.mobileNetV2(precision: .float32),
                                             input: Bytes.of(SyntheticImages.normalized(image))))
        for precision in [BuiltinModels.Precision.uint8, .int8] {
            let start = Date()
            let bytes = try BuiltinModels.mobileNetV2(precision: precision)
            print(String(format: "%@ MobileNetV2 built with Interpreter calibration in %.1f s: %d bytes, CRC-32 0x%@",
                         precision.rawValue, Date().timeIntervalSince(start), bytes.count, String(crc32(bytes), radix: 16)))
            let raw = try runInLiteRT(bytes, input: precision == .uint8 ? image : image.map { $0 ^ 0x80 })
            let q = raw.map { precision == .uint8 ? Float($0) / 256 : (Float(Int8(bitPattern: $0)) + 128) / 256 }
            XCTAssertTrue(argmaxes(q).all.contains(argmaxes(p).first), "\(precision)")
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
