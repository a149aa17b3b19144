import XCTest
import MagpieEngine
import MagpieModel
import MagpieTestSupport

/// QUANTIZE, DEQUANTIZE and CAST: LiteRT differential checks, hand-computed cases and refusals.
final class QuantizeOpsTests: XCTestCase {
    static func byteSize(_ type: TensorType) -> Int { type.byteSize ?? 1 }

    // MARK: QUANTIZE

    func testQuantizeFromFloatMatchesLiteRT() throws {
        var m = ElementwiseTestModel(seed: 20)
        let configs: [(TensorType, Float, Int)] = [
            (.uint8, 0.0078125, 128), (.uint8, 0.1, 0), (.uint8, 0.003, 255), (.uint8, 2.5, 17),
            (.int8, 0.0078125, 0), (.int8, 0.05, -128), (.int8, 0.4, 127), (.int8, 0.0001, -3),
            (.int16, 0.001, 0), (.int16, 1.0 / 32768, 0), (.int16, 0.5, 300),
        ]
        for (type, scale, zp) in configs {
            // Exact halves of the scale (round half away from zero), saturating magnitudes, then random values.
            let specials: [Float] = [0, -0.0, scale * 0.5, -scale * 0.5, scale * 1.5, -scale * 2.5, 1e20, -1e20,
                                     .infinity, -.infinity, .nan, -scale * 127.5]
            let data = Bytes.of(specials) + m.floats(52, -300 * scale...300 * scale)
            let x = m.input(.float32, [4, 16], data: data)
            let y = m.output(type, [4, 16], quant(scale, zp), label: "QUANTIZE float→\(type) \(scale)/\(zp)")
            m.op(.quantize, [x], [y], version: type == .uint8 ? 1 : (type == .int8 ? 2 : 4))
        }
        // Per-channel output quantization along the first, a middle and the last axis.
        for (axis, shape) in [(0, [3, 2, 5]), (1, [2, 4, 3]), (2, [2, 3, 6])] {
            let channels = shape[axis]
            let scales = (0..<channels).map { _ in m.scale(0.001...0.5) }
            let zps = (0..<channels).map { _ in Int64(Int.random(in: -20...20, using: &m.rng)) }
            let q = QuantizationParameters(scales: scales, zeroPoints: zps, quantizedDimension: axis)
            let n = shape.reduce(1, *)
            let x = m.input(.float32, shape, data: Bytes.of([Float(1e20), -1e20, .nan]) + m.floats(n - 3, -40...40))
            let y = m.output(.int8, shape, q, label: "QUANTIZE float→int8 per channel axis \(axis)")
            m.op(.quantize, [x], [y], version: 2)
        }
        try m.assertMatchesLiteRT()
    }

    func testRequantizeMatchesLiteRT() throws {
        var m = ElementwiseTestModel(seed: 21)
        // The golden models' requantizations (tf2 PTQ input and output, deeplab's uint8 rescale), then others.
        let configs: [(TensorType, Float, Int, TensorType, Float, Int)] = [
            (.uint8, 0.007843138, 127, .int8, 0.007843138, -1),
            (.int8, 0.00390625, -128, .uint8, 0.00390625, 0),
            (.uint8, 0.012298397, 0, .uint8, 0.029082999, 0),
            (.uint8, 0.02, 128, .int8, 0.02, 0),
            (.int8, 0.1, 0, .int8, 0.037, -20),
            (.int8, 0.01, 127, .int8, 0.5, -128),
            (.uint8, 0.3, 255, .uint8, 0.01, 0),
            (.uint8, 0.05, 7, .int8, 0.11, 100),
            (.int8, 0.2, -128, .uint8, 0.07, 255),
            (.int16, 0.001, 0, .int8, 0.05, 3),
            (.int16, 0.002, 0, .int16, 0.0007, 0),
            (.int16, 0.5, 0, .int32, 0.25, 10),
            (.int32, 0.01, 5, .int8, 0.7, -2),
            (.int32, 0.0001, 0, .int16, 0.01, 0),
        ]
        for (inType, si, zi, outType, so, zo) in configs {
            let n = 300
            let data: [UInt8]
            switch inType {
            case .int16: data = m.ints(n, Int16.min...Int16.max)
            case .int32: data = m.ints(n, Int32(-200_000)...200_000)
            default: data = m.bytes(n)
            }
            let x = m.input(inType, [3, 100], quant(si, zi), data: data)
            let y = m.output(outType, [3, 100], quant(so, zo), label: "QUANTIZE \(inType) \(si)/\(zi) → \(outType) \(so)/\(zo)")
            m.op(.quantize, [x], [y], version: 2)
        }
        try m.assertMatchesLiteRT()
    }

    func testQuantizeHandComputed() throws {
        // float → uint8 scale 0.5 zp 10: 1.25 / 0.5 = 2.5 rounds away from zero to 3 -> 13; -1.25 -> -3 -> 7;
        // 200 -> 400 + 10 clamps to 255; -10 -> -20 + 10 = -10 clamps to 0.
        // uint8 (0.5, 10) → int8 (0.25, -5): (13 - 10) * 2 - 5 = 1; (7 - 10) * 2 - 5 = -11; (255 - 10) * 2 - 5 clamps to 127.
        var b = OpModelBuilder()
        let x = b.input("x", .float32, [4])
        let q = b.tensor("q", .uint8, [4], quantization: quant(0.5, 10))
        let r = b.tensor("r", .int8, [4], quantization: quant(0.25, -5))
        b.op(.quantize, inputs: [x], outputs: [q])
        b.op(.quantize, inputs: [q], outputs: [r], version: 2)
        let out = try b.run([Bytes.of([Float(1.25), -1.25, 200, -10])])
        XCTAssertEqual(out[0], [13, 7, 255, 0])
        XCTAssertEqual(Bytes.array(out[1], as: Int8.self), [1, -11, 127, -25])
    }

    // MARK: DEQUANTIZE

    func testDequantizeMatchesLiteRT() throws {
        var m = ElementwiseTestModel(seed: 22)
        let configs: [(TensorType, Float, Int)] = [
            (.uint8, 0.0078125, 128), (.uint8, 0.1234567, 0), (.uint8, 3.3, 255),
            (.int8, 0.05, -128), (.int8, 0.0123, 7), (.int8, 1e-5, 127),
            (.int16, 0.001, 0), (.int16, 0.37, 0),
        ]
        for (type, scale, zp) in configs {
            let data = type == .int16 ? m.ints(256, Int16.min...Int16.max) : ActivationOpsTests.allBytes(&m)
            let x = m.input(type, [16, 16], quant(scale, zp), data: data)
            let y = m.output(.float32, [16, 16], label: "DEQUANTIZE \(type) \(scale)/\(zp)")
            m.op(.dequantize, [x], [y], version: type == .uint8 ? 1 : (type == .int8 ? 2 : 4))
        }
        for (type, axis, shape) in [(TensorType.int8, 0, [4, 3, 2]), (.int8, 2, [2, 3, 5]), (.uint8, 1, [2, 6, 3])] {
            let channels = shape[axis]
            let scales = (0..<channels).map { _ in m.scale(0.001...2) }
            let zps = (0..<channels).map { _ in Int64(type == .uint8 ? Int.random(in: 0...255, using: &m.rng) : 0) }
            let q = QuantizationParameters(scales: scales, zeroPoints: zps, quantizedDimension: axis)
            let x = m.input(type, shape, q, data: m.bytes(shape.reduce(1, *)))
            let y = m.output(.float32, shape, label: "DEQUANTIZE \(type) per channel axis \(axis)")
            m.op(.dequantize, [x], [y], version: 5)
        }
        // float16: zeros, subnormals, normals, the largest finite, infinities and a NaN, then random bit patterns.
        let halves: [UInt16] = [0x0000, 0x8000, 0x0001, 0x03FF, 0x8001, 0x0400, 0x3C00, 0xBC00, 0x3555, 0x7BFF, 0xFBFF,
                                0x7C00, 0xFC00, 0x7E00] + (0..<50).map { _ in UInt16.random(in: 0...0x7BFF, using: &m.rng) | (Bool.random(using: &m.rng) ? 0x8000 : 0) }
        let xh = m.input(.float16, [64], data: Bytes.of(halves))
        let yh = m.output(.float32, [64], label: "DEQUANTIZE float16")
        m.op(.dequantize, [xh], [yh], version: 3)
        try m.assertMatchesLiteRT()
    }

    func testDequantizeHandComputed() throws {
        // uint8 scale 0.5 zp 128: 130 -> 1.0, 0 -> -64, 255 -> 63.5. float16 0x3C00 = 1, 0xC000 = -2, 0x0001 = 2^-24.
        var b = OpModelBuilder()
        let x = b.input("x", .uint8, [3], quantization: quant(0.5, 128))
        let h = b.input("h", .float16, [3])
        let y = b.tensor("y", .float32, [3]), z = b.tensor("z", .float32, [3])
        b.op(.dequantize, inputs: [x], outputs: [y])
        b.op(.dequantize, inputs: [h], outputs: [z], version: 3)
        let out = try b.run([[130, 0, 255], Bytes.of([UInt16(0x3C00), 0xC000, 0x0001])])
        XCTAssertEqual(Bytes.floats(out[0]), [1, -64, 63.5])
        XCTAssertEqual(Bytes.floats(out[1]), [1, -2, Float(sign: .plus, exponent: -24, significand: 1)])
    }

    // MARK: CAST

    static let castTypes: [TensorType] = [.float32, .int64, .int32, .int16, .uint8, .int8, .bool]

    /// Values of `type` covering signs, limits and (for float) fractions, out-of-range magnitudes and NaN.
    static func castValues(_ type: TensorType) -> [UInt8] {
        switch type {
        case .float32:
            let values: [Float] = [0, -0.0, 0.4, -0.6, 1.5, -1.5, 2.7, -2.7, 127.9, 128.5, -128.5, 255.9, 256.5, -129,
                                   32767.5, 40000, -40000, 2_147_483_520, 2_147_483_648, -2_147_483_648, -3e9, 3e9,
                                   1e19, -1e19, 1e30, -1e30, .infinity, -.infinity, .nan, Float(bitPattern: 0x0001_16C2), 65535, 70000]
            return Bytes.of(values)
        case .int64:
            let values: [Int64] = [0, 1, -1, 127, 128, 255, 256, -129, 32768, -32769, 70000, 2_147_483_648,
                                   -2_147_483_649, Int64.max, Int64.min, 9_007_199_254_740_993, -1_099_511_627_776,
                                   9_007_199_254_740_995, 3, -3, 100, -100, 65535, 65536, 16_777_217, -16_777_217,
                                   42, -42, 200, -200, 7, -7]
            return Bytes.of(values)
        case .int32:
            let values: [Int32] = [0, 1, -1, 127, 128, 255, 256, -129, 32768, -32769, 70000, Int32.max, Int32.min,
                                   16_777_219, -16_777_217, 16_777_217, 3, -3, 100, -100, 65535, 65536, 42, -42, 200,
                                   -200, 7, -7, 1_000_000, -1_000_000, 2, -2]
            return Bytes.of(values)
        case .int16:
            let values: [Int16] = [0, 1, -1, 127, 128, 255, 256, -129, Int16.max, Int16.min, 3, -3, 100, -100, 300,
                                   -300, 42, -42, 200, -200, 7, -7, 1000, -1000, 2, -2, 5000, -5000, 9, -9, 11, -11]
            return Bytes.of(values)
        case .uint8:
            return (0..<32).map { UInt8(($0 * 37 + 1) % 256) }
        case .int8:
            return (0..<32).map { UInt8(truncatingIfNeeded: $0 * 41 - 128) }
        default:
            return (0..<32).map { UInt8($0 % 3 == 0 ? 1 : 0) }
        }
    }

    func testCastMatchesLiteRT() throws {
        var m = ElementwiseTestModel(seed: 23)
        for from in Self.castTypes {
            for to in Self.castTypes {
                let x = m.input(from, [32], data: Self.castValues(from))
                let y = m.output(to, [32], label: "CAST \(from)→\(to)")
                m.op(.cast, [x], [y], .cast(input: from, output: to))
            }
        }
        try m.assertMatchesLiteRT()
    }

    func testCastHandComputed() throws {
        // float → int32 truncates toward zero: 2.7 -> 2, -2.7 -> -2; int32 → uint8 wraps: 257 -> 1, -1 -> 255;
        // → bool is x != 0; bool → float is 0/1.
        var b = OpModelBuilder()
        let f = b.input("f", .float32, [3]), i = b.input("i", .int32, [3]), t = b.input("t", .bool, [3])
        let fi = b.tensor("fi", .int32, [3]), iu = b.tensor("iu", .uint8, [3]), fb = b.tensor("fb", .bool, [3])
        let tf = b.tensor("tf", .float32, [3])
        b.op(.cast, inputs: [f], outputs: [fi], options: .cast(input: .float32, output: .int32))
        b.op(.cast, inputs: [i], outputs: [iu], options: .cast(input: .int32, output: .uint8))
        b.op(.cast, inputs: [f], outputs: [fb], options: .cast(input: .float32, output: .bool))
        b.op(.cast, inputs: [t], outputs: [tf], options: .cast(input: .bool, output: .float32))
        let out = try b.run([Bytes.of([Float(2.7), -2.7, 0]), Bytes.of([Int32(257), -1, 5]), [1, 0, 1]])
        XCTAssertEqual(Bytes.array(out[0], as: Int32.self), [2, -2, 0])
        XCTAssertEqual(out[1], [1, 255, 5])
        XCTAssertEqual(out[2], [1, 1, 0])
        XCTAssertEqual(Bytes.floats(out[3]), [1, 0, 1])
    }

    // MARK: Refusals

    func testInvalidQuantizationOperatorsAreRefused() {
        var b = OpModelBuilder()
        var x = b.input("x", .float32, [4])
        var y = b.tensor("y", .uint8, [4])
        b.op(.quantize, inputs: [x], outputs: [y])
        assertRefused(b, op: "QUANTIZE", containing: "quantization")

        b = OpModelBuilder()
        x = b.input("x", .float32, [4])
        y = b.tensor("y", .int32, [4], quantization: quant(0.1, 0))
        b.op(.quantize, inputs: [x], outputs: [y])
        assertRefused(b, op: "QUANTIZE", containing: "int32")

        b = OpModelBuilder()
        x = b.input("x", .uint8, [4], quantization: quant(0.1, 0))
        y = b.tensor("y", .int16, [4], quantization: quant(0.1, 0))
        b.op(.quantize, inputs: [x], outputs: [y])
        assertRefused(b, op: "QUANTIZE", containing: "not supported")

        b = OpModelBuilder()
        x = b.input("x", .int16, [4], quantization: quant(0.1, 3))
        y = b.tensor("y", .int16, [4], quantization: quant(0.2, 0))
        b.op(.quantize, inputs: [x], outputs: [y])
        assertRefused(b, op: "QUANTIZE", containing: "zero points")

        b = OpModelBuilder()
        x = b.input("x", .int16, [4], quantization: quant(0.1, 5))
        y = b.tensor("y", .float32, [4])
        b.op(.dequantize, inputs: [x], outputs: [y], version: 4)
        assertRefused(b, op: "DEQUANTIZE", containing: "zero point")

        b = OpModelBuilder()
        x = b.input("x", .uint8, [4])
        y = b.tensor("y", .float32, [4])
        b.op(.dequantize, inputs: [x], outputs: [y])
        assertRefused(b, op: "DEQUANTIZE", containing: "quantization")

        b = OpModelBuilder()
        x = b.input("x", .int32, [4], quantization: quant(0.1, 0))
        y = b.tensor("y", .float32, [4])
        b.op(.dequantize, inputs: [x], outputs: [y])
        assertRefused(b, op: "DEQUANTIZE", containing: "int32")

        b = OpModelBuilder()
        x = b.input("x", .int8, [4], quantization: quant(0.1, 0))
        y = b.tensor("y", .int8, [4])
        b.op(.dequantize, inputs: [x], outputs: [y])
        assertRefused(b, op: "DEQUANTIZE", containing: "float32")

        b = OpModelBuilder()
        x = b.input("x", .float32, [4])
        y = b.tensor("y", .float16, [4])
        b.op(.cast, inputs: [x], outputs: [y], options: .cast(input: .float32, output: .float16))
        assertRefused(b, op: "CAST", containing: "float16")
    }
}
