import XCTest
import MagpieEngine
import MagpieModel
import MagpieTestSupport

/// An AVERAGE_POOL_2D or MAX_POOL_2D configuration for the differential tests.
struct PoolCase {
    var label: String
    var op: BuiltinOperator
    var type: TensorType
    var input: [Int]
    var filter = (h: 3, w: 3)
    var stride = (h: 1, w: 1)
    var padding: Padding = .same
    var activation: FusedActivation = .none
    var q: (scale: Float, zeroPoint: Int) = (0.05, 0)
}

extension DifferentialModel {
    mutating func addPool(_ c: PoolCase) {
        let q = c.type == .float32 ? nil : quant(c.q.scale, c.q.zeroPoint)
        let outputShape = [c.input[0],
                           windowedOutputSize(c.input[1], filter: c.filter.h, stride: c.stride.h, padding: c.padding),
                           windowedOutputSize(c.input[2], filter: c.filter.w, stride: c.stride.w, padding: c.padding),
                           c.input[3]]
        let x = input("\(c.label).x", c.type, c.input, q, floatRange: -8...8)
        let y = output(c.label, c.type, outputShape, q)
        var o = Pool2DOptions()
        o.filterHeight = c.filter.h; o.filterWidth = c.filter.w
        o.strideHeight = c.stride.h; o.strideWidth = c.stride.w
        o.padding = c.padding
        o.activation = c.activation
        builder.op(c.op, inputs: [x], outputs: [y], options: .pool2D(o), version: 2)
    }
}

final class PoolOpsTests: XCTestCase {
    func testPoolingMatchesLiteRT() throws {
        var m = DifferentialModel(seed: 21)
        for op in [BuiltinOperator.averagePool2D, .maxPool2D] {
            let name = op == .averagePool2D ? "avg" : "max"
            let cases: [PoolCase] = [
                PoolCase(label: "\(name) float 3x3 same", op: op, type: .float32, input: [1, 7, 9, 3]),
                PoolCase(label: "\(name) float 2x2 valid stride2 relu6", op: op, type: .float32, input: [2, 8, 8, 4],
                         filter: (2, 2), stride: (2, 2), padding: .valid, activation: .relu6),
                PoolCase(label: "\(name) float 3x2 stride(2,3) reluN1To1", op: op, type: .float32, input: [1, 5, 7, 17],
                         filter: (3, 2), stride: (2, 3), activation: .reluN1To1),
                PoolCase(label: "\(name) float global 7x7", op: op, type: .float32, input: [1, 7, 7, 8],
                         filter: (7, 7), padding: .valid),
                PoolCase(label: "\(name) float filter wider than input relu", op: op, type: .float32, input: [1, 2, 3, 2],
                         filter: (4, 4), activation: .relu),
                // mobilenet_v2_1.0_224_quant's AVERAGE_POOL_2D: 7x7 VALID over [1, 7, 7, 1280] at (0.02353, 0).
                PoolCase(label: "\(name) uint8 global 7x7", op: op, type: .uint8, input: [1, 7, 7, 64], filter: (7, 7),
                         padding: .valid, q: (0.023528477177023888, 0)),
                PoolCase(label: "\(name) uint8 3x3 stride2 relu6", op: op, type: .uint8, input: [1, 9, 8, 3],
                         stride: (2, 2), activation: .relu6, q: (0.05, 100)),
                PoolCase(label: "\(name) uint8 zp 255 reluN1To1", op: op, type: .uint8, input: [2, 5, 5, 2],
                         filter: (2, 3), activation: .reluN1To1, q: (0.004, 255)),
                PoolCase(label: "\(name) uint8 zp 0 1 channel", op: op, type: .uint8, input: [1, 6, 7, 1],
                         filter: (3, 3), stride: (2, 1), q: (0.5, 0)),
                PoolCase(label: "\(name) int8 global 7x7", op: op, type: .int8, input: [1, 7, 7, 64], filter: (7, 7),
                         padding: .valid, q: (0.0235294122248888, -128)),
                PoolCase(label: "\(name) int8 3x3 same zp 0", op: op, type: .int8, input: [1, 7, 9, 17], q: (0.1, 0)),
                PoolCase(label: "\(name) int8 2x2 valid zp 127", op: op, type: .int8, input: [2, 8, 8, 3],
                         filter: (2, 2), stride: (2, 2), padding: .valid, q: (0.05, 127)),
                PoolCase(label: "\(name) int8 relu zp 5", op: op, type: .int8, input: [1, 4, 5, 6],
                         filter: (2, 2), activation: .relu, q: (0.05, 5)),
                PoolCase(label: "\(name) int8 relu6 zp -128", op: op, type: .int8, input: [1, 5, 6, 4],
                         filter: (3, 2), stride: (1, 2), activation: .relu6, q: (0.03, -128)),
            ]
            for c in cases { m.addPool(c) }
        }
        try m.assertMatchesLiteRT()
    }

    private func pool(_ op: BuiltinOperator, _ type: TensorType, input: [Int], filter: (Int, Int), _ values: [UInt8],
                      q: QuantizationParameters? = nil, outputQ: QuantizationParameters? = nil,
                      activation: FusedActivation = .none) throws -> [UInt8] {
        var b = OpModelBuilder()
        let x = b.input("x", type, input, quantization: q)
        let y = b.tensor("y", type, [1], quantization: outputQ ?? q)
        var o = Pool2DOptions()
        o.filterHeight = filter.0; o.filterWidth = filter.1
        o.strideHeight = 1; o.strideWidth = 1
        o.padding = .same
        o.activation = activation
        b.op(op, inputs: [x], outputs: [y], options: .pool2D(o))
        return try b.run([values])[0]
    }

    /// Quantized averages over one full 2×2 window (SAME, top-left output), by TFLite's formulas:
    /// uint8 `(acc + n/2) / n`: 10 → 12/4 = 3, 9 → 11/4 = 2; int8 by sign: -10 → (-10 - 2)/4 = -3,
    /// 10 → (10 + 2)/4 = 3, -9 → (-9 - 2)/4 = -2 (truncating division).
    func testQuantizedAverageRounding() throws {
        let q = quant(1, 0)
        for (values, expected) in [([1, 2, 3, 4], 3), ([1, 2, 3, 3], 2)] as [([UInt8], UInt8)] {
            XCTAssertEqual(try pool(.averagePool2D, .uint8, input: [1, 2, 2, 1], filter: (2, 2), values, q: q).first, expected)
        }
        for (values, expected) in [([-1, -2, -3, -4], -3), ([1, 2, 3, 4], 3), ([-1, -2, -3, -3], -2)] as [([Int8], Int8)] {
            let out = try pool(.averagePool2D, .int8, input: [1, 2, 2, 1], filter: (2, 2), values.map { UInt8(bitPattern: $0) }, q: q)
            XCTAssertEqual(Int8(bitPattern: out[0]), expected, "\(values)")
        }
    }

    /// float AVERAGE_POOL_2D 3×3 SAME over 1...9 in a 3×3 image: padding is not counted, so the corner averages
    /// (1+2+4+5)/4 = 3, the top edge (1+...+6)/6 = 3.5 and the centre 45/9 = 5. MAX_POOL_2D gives 5, 6 and 9.
    func testFloatPoolingExcludesPadding() throws {
        let image = Bytes.of((1...9).map(Float.init))
        let average = Bytes.floats(try pool(.averagePool2D, .float32, input: [1, 3, 3, 1], filter: (3, 3), image))
        XCTAssertEqual(average, [3, 3.5, 4, 4.5, 5, 5.5, 6, 6.5, 7])
        let maximum = Bytes.floats(try pool(.maxPool2D, .float32, input: [1, 3, 3, 1], filter: (3, 3), image))
        XCTAssertEqual(maximum, [5, 6, 6, 8, 9, 9, 8, 9, 9])
    }

    /// int8 MAX_POOL_2D with relu on scale 1, zero point 0: all-negative windows clamp to quantize(0) = 0.
    func testQuantizedMaxPoolActivation() throws {
        let out = try pool(.maxPool2D, .int8, input: [1, 1, 2, 1], filter: (1, 2), [UInt8(bitPattern: -5), UInt8(bitPattern: -3)],
                           q: quant(1, 0), activation: .relu)
        XCTAssertEqual(out, [0, 0])
        let plain = try pool(.maxPool2D, .int8, input: [1, 1, 2, 1], filter: (1, 2), [UInt8(bitPattern: -5), UInt8(bitPattern: -3)],
                             q: quant(1, 0))
        XCTAssertEqual(plain.map { Int8(bitPattern: $0) }, [-3, -3])
    }

    func testPoolingRefusesInvalidConfigurations() {
        func pool(_ type: TensorType = .float32, input: [Int] = [1, 4, 4, 2], filter: (Int, Int) = (2, 2),
                  stride: Int = 1, q: QuantizationParameters? = nil, outputQ: QuantizationParameters? = nil) -> OpModelBuilder {
            var b = OpModelBuilder()
            let x = b.input("x", type, input, quantization: q)
            let y = b.tensor("y", type, [1], quantization: outputQ ?? q)
            var o = Pool2DOptions()
            o.filterHeight = filter.0; o.filterWidth = filter.1
            o.strideHeight = stride; o.strideWidth = stride
            b.op(.averagePool2D, inputs: [x], outputs: [y], options: .pool2D(o))
            return b
        }
        assertRefused(pool(filter: (0, 2)), op: "AVERAGE_POOL_2D", "filter_h")
        assertRefused(pool(stride: 0), op: "AVERAGE_POOL_2D", "stride_h")
        assertRefused(pool(input: [4, 4, 2]), op: "AVERAGE_POOL_2D", "4-D")
        assertRefused(pool(.int32), op: "AVERAGE_POOL_2D", "int32")
        assertRefused(pool(.uint8, q: quant(0.1, 3), outputQ: quant(0.2, 3)), op: "AVERAGE_POOL_2D", "must equal")
        assertRefused(pool(.int8, q: quant(0.1, 3), outputQ: quant(0.1, 4)), op: "AVERAGE_POOL_2D", "must equal")
        assertRefused(pool(.uint8), op: "AVERAGE_POOL_2D", "quantization")
    }

    /// A zero stride is refused by LiteRT as well.
    func testRefusalsAgreeWithLiteRT() throws {
        var b = OpModelBuilder()
        let x = b.input("x", .float32, [1, 4, 4, 1])
        let y = b.tensor("y", .float32, [1, 2, 2, 1])
        var o = Pool2DOptions()
        o.filterHeight = 2; o.filterWidth = 2; o.strideHeight = 0; o.strideWidth = 2
        b.op(.maxPool2D, inputs: [x], outputs: [y], options: .pool2D(o))
        try assertBothRefuse("stride 0", b, inputs: [[UInt8](repeating: 0, count: 64)])
    }
}
