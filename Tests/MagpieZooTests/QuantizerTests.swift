import MagpieModel
@testable import MagpieZoo
import XCTest

/// The quantization helpers, checked by hand.
final class QuantizerTests: XCTestCase {
    func testAsymmetricRangeIncludesZeroAndNudgesTheZeroPoint() {
        // [-1, 3] on uint8: scale 4/255, zero point 255/4 = 63.75 → 64.
        let u = Quantizer.asymmetric(low: -1, high: 3, type: .uint8)
        XCTAssertEqual(u.scale, 4.0 / 255, accuracy: 1e-9)
        XCTAssertEqual(u.zeroPoint, 64)
        // Same range on int8: zero point -128 + 63.75 → -64.
        XCTAssertEqual(Quantizer.asymmetric(low: -1, high: 3, type: .int8).zeroPoint, -64)
        // A positive-only range is widened to start at 0.
        let positive = Quantizer.asymmetric(low: 2, high: 6, type: .uint8)
        XCTAssertEqual(positive.zeroPoint, 0)
        XCTAssertEqual(positive.scale, 6.0 / 255, accuracy: 1e-9)
        // A negative-only range ends at 0.
        XCTAssertEqual(Quantizer.asymmetric(low: -2, high: -1, type: .int8).zeroPoint, 127)
        // An all-zero tensor still gets a positive scale.
        XCTAssertGreaterThan(Quantizer.asymmetric(low: 0, high: 0, type: .uint8).scale, 0)
    }

    func testUInt8PerTensorWeights() {
        let (bytes, q) = Quantizer.uint8PerTensor([-1, 0, 0.5, 3])
        XCTAssertEqual(q.zeroPoint, 64)
        // -1/(4/255) = -63.75 → -64 + 64 = 0; 0 → 64; 0.5 → 31.875 → 32 + 64 = 96; 3 → 191.25 → 191 + 64 = 255.
        XCTAssertEqual(bytes, [0, 64, 96, 255])
    }

    func testInt8PerChannelWeightsAlongEitherAxis() {
        // OHWI with 2 output channels of 2 values: channel scales max|w|/127.
        let (conv, cq) = Quantizer.int8PerChannel([0.5, -1, 2, 1], channels: 2, channelAxis: 0)
        XCTAssertEqual(cq.scales, [1.0 / 127, 2.0 / 127])
        XCTAssertEqual(cq.quantizedDimension, 0)
        XCTAssertEqual(conv.map { Int8(bitPattern: $0) }, [64, -127, 127, 64])  // 63.5 → 64 (half away from zero)
        // 1HWC with 2 channels interleaved: channel = index % 2.
        let (dw, dq) = Quantizer.int8PerChannel([0.5, 2, -1, 1], channels: 2, channelAxis: 3)
        XCTAssertEqual(dq.scales, [1.0 / 127, 2.0 / 127])
        XCTAssertEqual(dq.quantizedDimension, 3)
        XCTAssertEqual(dw.map { Int8(bitPattern: $0) }, [64, 127, -127, 64])
        XCTAssertEqual(dq.zeroPoints, [0, 0])
    }

    func testInt32BiasUsesInputTimesWeightScale() {
        let (bytes, q) = Quantizer.int32Bias([1, -0.5], inputScale: 0.5, weightScales: [0.01, 0.02])
        XCTAssertEqual(q.scales, [0.005, 0.01])
        let values = bytes.withUnsafeBytes { Array($0.bindMemory(to: Int32.self)) }
        XCTAssertEqual(values, [200, -50])
        let (perTensor, pq) = Quantizer.int32Bias([0.25], inputScale: 0.5, weightScales: [0.1])
        XCTAssertEqual(pq.scales, [0.05])
        XCTAssertEqual(perTensor.withUnsafeBytes { Array($0.bindMemory(to: Int32.self)) }, [5])
    }
}
