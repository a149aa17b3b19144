import XCTest
@testable import MagpieVision
import MagpieModel

final class InputTensorTests: XCTestCase {
    /// A 2x1 image: black-ish and white-ish pixels with every channel distinct.
    private let image = RGBImage(width: 2, height: 1, pixels: [0, 128, 255, 1, 127, 254])

    private func fill<T>(_ spec: TensorSpec, _ normalization: InputNormalization? = nil, as: T.Type) throws -> [T] {
        let count = try XCTUnwrap(spec.elementCount)
        var out: [T] = []
        var bytes = [UInt8](repeating: 0xEE, count: count * MemoryLayout<T>.stride)
        try bytes.withUnsafeMutableBytes { try fillInput(image, spec: spec, normalization: normalization, into: $0) }
        bytes.withUnsafeBytes { raw in out = (0..<count).map { raw.loadUnaligned(fromByteOffset: $0 * MemoryLayout<T>.stride, as: T.self) } }
        return out
    }

    func testUInt8IsRawPixels() throws {
        let q = QuantizationParameters(scales: [1.0 / 128], zeroPoints: [128])
        XCTAssertEqual(try fill(TensorSpec(type: .uint8, shape: [1, 1, 2, 3], quantization: q), as: UInt8.self), [0, 128, 255, 1, 127, 254])
        // Metadata normalisation does not apply to quantized inputs.
        XCTAssertEqual(try fill(TensorSpec(type: .uint8, shape: [1, 2, 3]), InputNormalization(mean: [0], std: [255]), as: UInt8.self),
                       [0, 128, 255, 1, 127, 254])
    }

    func testInt8IsPixelMinus128() throws {
        let q = QuantizationParameters(scales: [1.0 / 255], zeroPoints: [-128])
        XCTAssertEqual(try fill(TensorSpec(type: .int8, shape: [1, 1, 2, 3], quantization: q), as: Int8.self), [-128, 0, 127, -127, -1, 126])
    }

    func testFloatDefaultsToMinusOneToOne() throws {
        let values = try fill(TensorSpec(type: .float32, shape: [1, 1, 2, 3]), as: Float.self)
        XCTAssertEqual(values, [-1, 0.5 / 127.5, 1, -126.5 / 127.5, -0.5 / 127.5, 126.5 / 127.5])
    }

    func testFloatUsesPerChannelMetadata() throws {
        let imagenet = InputNormalization(mean: [123.675, 116.28, 103.53], std: [58.395, 57.12, 57.375])
        let values = try fill(TensorSpec(type: .float32, shape: [1, 1, 2, 3]), imagenet, as: Float.self)
        let want: [Float] = [(0 - 123.675) / 58.395, (128 - 116.28) / 57.12, (255 - 103.53) / 57.375,
                             (1 - 123.675) / 58.395, (127 - 116.28) / 57.12, (254 - 103.53) / 57.375]
        for (v, w) in zip(values, want) { XCTAssertEqual(v, w, accuracy: 1e-6) }
        let zeroToOne = try fill(TensorSpec(type: .float32, shape: [1, 1, 2, 3]), InputNormalization(mean: [0], std: [255]), as: Float.self)
        XCTAssertEqual(zeroToOne, [0, 128, 255, 1, 127, 254].map { Float($0) / 255 })
    }

    func testMismatchesThrow() {
        var buffer = [UInt8](repeating: 0, count: 64)
        func attempt(_ spec: TensorSpec, _ normalization: InputNormalization? = nil, bytes: Int) -> Error? {
            do {
                try buffer.withUnsafeMutableBytes { try fillInput(image, spec: spec, normalization: normalization,
                                                                  into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<bytes])) }
                return nil
            } catch { return error }
        }
        // Image of the wrong size for the tensor.
        guard case .invalidArgument? = attempt(TensorSpec(type: .uint8, shape: [1, 2, 2, 3]), bytes: 12) as? VisionError else { return XCTFail() }
        // Buffer of the wrong size.
        guard case .invalidArgument? = attempt(TensorSpec(type: .float32, shape: [1, 1, 2, 3]), bytes: 23) as? VisionError else { return XCTFail() }
        // NCHW and grey shapes, float16 and int32 types.
        guard case .unsupportedTensor? = attempt(TensorSpec(type: .uint8, shape: [1, 3, 1, 2]), bytes: 6) as? VisionError else { return XCTFail() }
        guard case .unsupportedTensor? = attempt(TensorSpec(type: .uint8, shape: [1, 1, 2, 1]), bytes: 2) as? VisionError else { return XCTFail() }
        guard case .unsupportedTensor? = attempt(TensorSpec(type: .float16, shape: [1, 1, 2, 3]), bytes: 12) as? VisionError else { return XCTFail() }
        guard case .unsupportedTensor? = attempt(TensorSpec(type: .int32, shape: [1, 1, 2, 3]), bytes: 24) as? VisionError else { return XCTFail() }
        // Unusable normalisation for a float input.
        for bad in [InputNormalization(mean: [1, 2], std: [1]), InputNormalization(mean: [0], std: [0]),
                    InputNormalization(mean: [.nan], std: [1])] {
            guard case .invalidArgument? = attempt(TensorSpec(type: .float32, shape: [1, 1, 2, 3]), bad, bytes: 24) as? VisionError else {
                return XCTFail("\(bad)")
            }
        }
    }

    func testImageSizeOfSpecs() throws {
        XCTAssertTrue(try TensorSpec(type: .uint8, shape: [1, 224, 160, 3]).imageSize() == (160, 224))
        XCTAssertTrue(try TensorSpec(type: .uint8, shape: [96, 128, 3]).imageSize() == (128, 96))
        for shape in [[2, 224, 224, 3], [1, 3, 224, 224], [224, 224], [1, 0, 4, 3]] {
            XCTAssertThrowsError(try TensorSpec(type: .uint8, shape: shape).imageSize(), "\(shape)")
        }
        XCTAssertNil(TensorSpec(type: .uint8, shape: [1, -1, 3]).elementCount)
        XCTAssertNil(TensorSpec(type: .uint8, shape: [Int.max, 2]).elementCount)
    }
}
