import Foundation
import XCTest
@testable import MagpieEngine
import MagpieModel
import MagpieTestSupport

/// The two arithmetics of `Requantization` on values whose rounding tells them apart: halfway cases, which
/// XNNPACK's float scale rounds to even and its ADD rounds up, while TFLite's reference rounds its convolutions'
/// halves up and its ADD's away from zero. Each
/// model runs on the reference kernels and on the optimized ones (which must agree in both arithmetics).
final class RequantizationTests: XCTestCase {
    /// One int8 1x1 CONV_2D from one channel to one, filter 1 (scale 0.5), input and output scale 1: the output is
    /// `(x - zx) * 0.5` rounded, plus the output zero point.
    func halvingConvolution() -> OpModelBuilder {
        var b = OpModelBuilder()
        let x = b.input("x", .int8, [1, 1, 8, 1], quantization: quant(1, 3))
        let w = b.constant("w", .int8, [1, 1, 1, 1], bytes: [1],
                           quantization: QuantizationParameters(scales: [0.5], zeroPoints: [0], quantizedDimension: 0))
        let bias = b.constant("b", .int32, [1], bytes: Bytes.of([Int32(0)]),
                              quantization: QuantizationParameters(scales: [0.5], zeroPoints: [0], quantizedDimension: 0))
        let y = b.tensor("y", .int8, [1, 1, 8, 1], quantization: quant(1, -2))
        b.op(.conv2D, inputs: [x, w, bias], outputs: [y], options: .conv2D(Conv2DOptions()), version: 3)
        return b
    }

    func testConvolutionHalfwayCases() throws {
        // x - zx: 5, 7, -5, -7, 1, -1, 250 (clamps at 127), -131 (clamps at -128).
        let input: [Int8] = [8, 10, -2, -4, 4, 2, 127, -128]
        let bytes = input.map { UInt8(bitPattern: $0) }
        let b = halvingConvolution()
        // Halves to even (2.5 -> 2, 3.5 -> 4, -2.5 -> -2, -3.5 -> -4, 0.5 -> 0, -0.5 -> -0), then the zero point -2;
        // 62 - 2 and -62 - 2 stay inside the int8 range.
        let xnnpack: [Int8] = [0, 2, -4, -6, -2, -2, 60, -68]
        // Halves up, toward +infinity: with the Q31 multiplier 2^30 (0.5, no shift) the doubling high multiply's
        // nudge for negative products, 1 - 2^30, is not enough to carry an exact half away from zero.
        let reference: [Int8] = [1, 2, -4, -5, -1, -2, 60, -67]
        for kernels in KernelSet.allCases {
            for (mode, expected) in [(Requantization.xnnpack, xnnpack), (.reference, reference)] {
                let out = try b.run([bytes], kernels: kernels, requantization: mode)[0].map { Int8(bitPattern: $0) }
                XCTAssertEqual(out, expected, "\(kernels) kernels, \(mode) arithmetic")
            }
        }
    }

    func testAddHalfwayCases() throws {
        // Scales 0.5 and 0.25 into 1: XNNPACK takes shift 21 and multipliers 2^20 and 2^19.
        let p = try XCTUnwrap(Elementwise.ShiftedAddParameters(
            scale1: 0.5, zeroPoint1: 0, scale2: 0.25, zeroPoint2: 0, outputScale: 1, outputZeroPoint: 0,
            activationMin: -128, activationMax: 127))
        XCTAssertEqual([p.shift, p.multiplier1, p.multiplier2, p.bias], [21, 1 << 20, 1 << 19, 1 << 20])
        // Ratios outside [2^-10, 2^8) are XNNPACK's to refuse, and the reference arithmetic stays.
        XCTAssertNil(Elementwise.ShiftedAddParameters(
            scale1: 1, zeroPoint1: 0, scale2: 1e-4, zeroPoint2: 0, outputScale: 1, outputZeroPoint: 0,
            activationMin: -128, activationMax: 127))

        var b = OpModelBuilder()
        let x = b.input("x", .int8, [64], quantization: quant(0.5, 0))
        let y = b.input("y", .int8, [64], quantization: quant(0.25, 0))
        let out = b.tensor("out", .int8, [64], quantization: quant(1, 0))
        b.op(.add, inputs: [x, y], outputs: [out], options: .arithmetic(activation: .none), version: 2)
        // 0.5 * a + 0.25 * c: 0.5, -0.5, 1.5, -1.5, 0.25, -0.25, 0.75, -0.75; 64 elements reach the AVX-512 loop.
        let a: [Int8] = [1, -1, 3, -3, 0, 0, 1, -1], c: [Int8] = [0, 0, 0, 0, 1, -1, 1, -1]
        let xs = (0..<64).map { UInt8(bitPattern: a[$0 % 8]) }, ys = (0..<64).map { UInt8(bitPattern: c[$0 % 8]) }
        let xnnpack: [Int8] = [1, 0, 2, -1, 0, 0, 1, -1]  // halves up
        let reference: [Int8] = [1, -1, 2, -2, 0, 0, 1, -1]  // halves away from zero
        for kernels in KernelSet.allCases {
            for (mode, expected) in [(Requantization.xnnpack, xnnpack), (.reference, reference)] {
                let result = try b.run([xs, ys], kernels: kernels, requantization: mode)[0].map { Int8(bitPattern: $0) }
                XCTAssertEqual(result, (0..<64).map { expected[$0 % 8] }, "\(kernels) kernels, \(mode) arithmetic")
            }
        }
    }

    /// MEAN over two int8 values, scales 1: halves to even in XNNPACK's arithmetic (2.5 -> 2, -2.5 -> -2, 3.5 -> 4),
    /// the reference rounds 2.5 up.
    func testMeanHalfwayCases() throws {
        var b = OpModelBuilder()
        let x = b.input("x", .int8, [1, 2, 3], quantization: quant(1, 0))
        let axis = b.constant("axis", .int32, [1], bytes: Bytes.of([Int32(1)]))
        let y = b.tensor("y", .int8, [1, 3], quantization: quant(1, 0))
        b.op(.mean, inputs: [x, axis], outputs: [y], options: .reducer(keepDims: false), version: 2)
        let input: [Int8] = [2, -2, 3, 3, -3, 4]  // channel c: input[c] and input[3 + c]
        let bytes = input.map { UInt8(bitPattern: $0) }
        for kernels in KernelSet.allCases {
            let xnnpack = try b.run([bytes], kernels: kernels, requantization: .xnnpack)[0].map { Int8(bitPattern: $0) }
            XCTAssertEqual(xnnpack, [2, -2, 4], "\(kernels) kernels")
            let reference = try b.run([bytes], kernels: kernels, requantization: .reference)[0].map { Int8(bitPattern: $0) }
            XCTAssertEqual(reference[0], 3, "\(kernels) kernels: TFLite's rounding takes 2.5 up")
        }
    }

    func testDefaults() {
        XCTAssertEqual(Requantization.default(for: .reference), .reference)
        XCTAssertEqual(Requantization.default(for: .optimized), .xnnpack)
    }
}
