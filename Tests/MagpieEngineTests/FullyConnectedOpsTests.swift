import XCTest
import MagpieEngine
import MagpieModel
import MagpieTestSupport

/// A FULLY_CONNECTED configuration for the differential tests.
struct FullyConnectedCase {
    var label: String
    var type: TensorType
    var input: [Int]
    var units: Int
    var keepNumDims = false
    var activation: FusedActivation = .none
    var inputQ: (scale: Float, zeroPoint: Int) = (0.05, 0)
    var filterScales: [Float] = [0.02]
    var filterZeroPoint = 0
    var outputScale: Float?
    var outputZeroPoint: Int?
    var bias = true
    /// Weights as a graph input instead of a constant.
    var runtimeWeights = false
}

extension DifferentialModel {
    mutating func addFullyConnected(_ c: FullyConnectedCase) {
        let depth = c.input.last!
        let batches = c.input.reduce(1, *) / depth
        let outputShape = c.keepNumDims ? Array(c.input.dropLast()) + [c.units] : [batches, c.units]
        var inputQ: QuantizationParameters?, filterQ: QuantizationParameters?, outputQ: QuantizationParameters?
        var biasQ: QuantizationParameters?, biasRange: ClosedRange<Int>?, filterRange: ClosedRange<Int>?
        if c.type != .float32 {
            let full = c.type == .uint8 ? 0...255 : -128...127
            filterRange = c.type == .int8 ? -127...127 : full
            let auto = autoOutputQuantization(type: c.type, k: depth, productScale: c.inputQ.scale * c.filterScales.max()!,
                                              input: (full, c.inputQ.zeroPoint), filter: (filterRange!, c.filterZeroPoint),
                                              factor: 1)
            let outputScale = c.outputScale ?? auto.scale
            inputQ = quant(c.inputQ.scale, c.inputQ.zeroPoint)
            outputQ = quant(outputScale, c.outputZeroPoint ?? auto.zeroPoint)
            if c.filterScales.count == 1 {
                filterQ = quant(c.filterScales[0], c.filterZeroPoint)
                biasQ = quant(c.inputQ.scale * c.filterScales[0], 0)
            } else {
                filterQ = perChannel(c.filterScales, axis: 0)
                biasQ = QuantizationParameters(scales: c.filterScales.map { c.inputQ.scale * $0 },
                                               zeroPoints: [Int64](repeating: 0, count: c.units))
            }
            let bound = max(1, min(1_000_000, Int(20 * outputScale / (c.inputQ.scale * c.filterScales.min()!))))
            biasRange = -bound...bound
        }
        let x = input("\(c.label).x", c.type, c.input, inputQ)
        let w = c.runtimeWeights
            ? input("\(c.label).w", c.type, [c.units, depth], filterQ, range: filterRange, floatRange: -1...1)
            : randomConstant("\(c.label).w", c.type, [c.units, depth], filterQ, range: filterRange, floatRange: -1...1)
        var inputs = [x, w]
        if c.bias {
            let biasType: TensorType = c.type == .float32 ? .float32 : .int32
            inputs.append(randomConstant("\(c.label).b", biasType, [c.units], biasQ, range: biasRange, floatRange: -1...1))
        }
        let y = output(c.label, c.type, outputShape, outputQ)
        var o = FullyConnectedOptions()
        o.keepNumDims = c.keepNumDims
        o.activation = c.activation
        builder.op(.fullyConnected, inputs: inputs, outputs: [y], options: .fullyConnected(o), version: 4)
    }
}

final class FullyConnectedOpsTests: XCTestCase {
    func testFullyConnectedMatchesLiteRT() throws {
        var m = DifferentialModel(seed: 11)
        let cases: [FullyConnectedCase] = [
            FullyConnectedCase(label: "float", type: .float32, input: [3, 10], units: 7),
            FullyConnectedCase(label: "float keep_num_dims relu", type: .float32, input: [2, 3, 4], units: 5,
                               keepNumDims: true, activation: .relu),
            FullyConnectedCase(label: "float flattened reluN1To1 no bias", type: .float32, input: [4, 2, 3], units: 5,
                               activation: .reluN1To1, bias: false),
            FullyConnectedCase(label: "float runtime weights relu6", type: .float32, input: [2, 17], units: 3,
                               activation: .relu6, runtimeWeights: true),
            FullyConnectedCase(label: "uint8 zp 128/122", type: .uint8, input: [8, 40], units: 64,
                               inputQ: (0.0235, 128), filterScales: [0.01], filterZeroPoint: 122),
            FullyConnectedCase(label: "uint8 zp 0/128 relu6", type: .uint8, input: [3, 33], units: 9, activation: .relu6,
                               inputQ: (0.05, 0), filterScales: [unitFilterScale(inputScale: 0.05, k: 33)],
                               filterZeroPoint: 128,
                               outputScale: 6 / 255, outputZeroPoint: 0),
            FullyConnectedCase(label: "uint8 keep_num_dims no bias", type: .uint8, input: [2, 2, 16], units: 6,
                               keepNumDims: true, inputQ: (0.1, 255), filterScales: [0.02], filterZeroPoint: 0, bias: false),
            FullyConnectedCase(label: "int8 per-tensor zp 5", type: .int8, input: [8, 40], units: 64,
                               inputQ: (0.05, -128), filterScales: [0.01], filterZeroPoint: 5),
            FullyConnectedCase(label: "int8 per-channel", type: .int8, input: [8, 40], units: 64,
                               inputQ: (0.05, 127), filterScales: spreadScales(64, 0.001, 0.05)),
            FullyConnectedCase(label: "int8 per-channel keep_num_dims relu", type: .int8, input: [1, 3, 24], units: 4,
                               keepNumDims: true, activation: .relu, inputQ: (0.02, -3),
                               filterScales: spreadScales(4, 0.01, 0.03)),
            FullyConnectedCase(label: "int8 runtime weights no bias", type: .int8, input: [2, 12], units: 3,
                               inputQ: (0.3, 1), filterScales: [0.3], bias: false, runtimeWeights: true),
        ]
        for c in cases { m.addFullyConnected(c) }
        try m.assertMatchesLiteRT()
    }

    /// LiteRT 2.3.0's quantized reference FULLY_CONNECTED rounds `acc · (in_scale · w_scale / out_scale)` once, in
    /// double; CONV_2D uses the fixed-point `MultiplyByQuantizedMultiplier`, which rounds twice.
    /// int8, scales in 1, weights 0.3 (float 0.300000011920928955078125), out 1, zero points 0; input 3, weight -66:
    /// acc = -198. FULLY_CONNECTED: round(-198 · 0.3000000119) = round(-59.4000002) = -59.
    /// CONV_2D 1×1: QuantizeMultiplier(0.3000000119) = (1288490240, -1); the high multiply gives
    /// round(-198 · 0.6000000238) = round(-118.8000005) = -119, then the rounding halving of -119 = -59.5 goes away
    /// from zero to -60.
    func testFullyConnectedRoundsOnceWhereConvolutionRoundsTwice() throws {
        var b = OpModelBuilder()
        let x = b.input("x", .int8, [1, 1], quantization: quant(1, 0))
        let w = b.constant("w", .int8, [1, 1], bytes: [UInt8(bitPattern: -66)], quantization: quant(0.3, 0))
        let y = b.tensor("fc", .int8, [1, 1], quantization: quant(1, 0))
        b.op(.fullyConnected, inputs: [x, w], outputs: [y], options: .fullyConnected(FullyConnectedOptions()), version: 4)
        let x4 = b.input("x4", .int8, [1, 1, 1, 1], quantization: quant(1, 0))
        let w4 = b.constant("w4", .int8, [1, 1, 1, 1], bytes: [UInt8(bitPattern: -66)], quantization: quant(0.3, 0))
        let b4 = b.constant("b4", .int32, [1], bytes: Bytes.of([Int32(0)]), quantization: quant(0.3, 0))
        let y4 = b.tensor("conv", .int8, [1, 1, 1, 1], quantization: quant(1, 0))
        var o = Conv2DOptions()
        o.strideWidth = 1; o.strideHeight = 1
        b.op(.conv2D, inputs: [x4, w4, b4], outputs: [y4], options: .conv2D(o), version: 3)
        let out = try b.run([[3], [3]])
        XCTAssertEqual(out.map { $0.map { Int8(bitPattern: $0) } }, [[-59], [-60]])
        if let reason = LiteRTReference.unavailableReason { throw XCTSkip(reason) }
        XCTAssertEqual(try LiteRTReference.run(model: b.build(), inputs: [[3], [3]], outputCount: 2), .outputs(out))
    }

    /// float FULLY_CONNECTED by hand: input [1, 2, 3], weights [[1, 0, -1], [0.5, 0.5, 0.5]], bias [0.25, -1]:
    /// [1 - 3 + 0.25, 3 - 1] = [-1.75, 2]; relu gives [0, 2].
    func testFullyConnectedFloatHandComputed() throws {
        var b = OpModelBuilder()
        let x = b.input("x", .float32, [1, 3])
        let w = b.constant("w", .float32, [2, 3], bytes: Bytes.of([Float(1), 0, -1, 0.5, 0.5, 0.5]))
        let bias = b.constant("b", .float32, [2], bytes: Bytes.of([Float(0.25), -1]))
        let y = b.tensor("y", .float32, [1, 2])
        let yr = b.tensor("yr", .float32, [1, 2])
        b.op(.fullyConnected, inputs: [x, w, bias], outputs: [y], options: .fullyConnected(FullyConnectedOptions()))
        var relu = FullyConnectedOptions()
        relu.activation = .relu
        b.op(.fullyConnected, inputs: [x, w, bias], outputs: [yr], options: .fullyConnected(relu))
        let out = try b.run([Bytes.of([Float(1), 2, 3])])
        XCTAssertEqual(Bytes.floats(out[0]), [-1.75, 2])
        XCTAssertEqual(Bytes.floats(out[1]), [0, 2])
    }

    /// Shapes: [2, 3, 4] against 4-deep weights flattens to [6, units], or keeps [2, 3, units] with keep_num_dims.
    func testFullyConnectedOutputShapes() throws {
        for keep in [false, true] {
            var b = OpModelBuilder()
            let x = b.input("x", .float32, [2, 3, 4])
            let w = b.constant("w", .float32, [5, 4], bytes: Bytes.of([Float](repeating: 0.5, count: 20)))
            let y = b.tensor("y", .float32, [1])
            var o = FullyConnectedOptions()
            o.keepNumDims = keep
            b.op(.fullyConnected, inputs: [x, w], outputs: [y], options: .fullyConnected(o))
            let interpreter = try Interpreter(model: try Model(data: b.build()), options: .init(kernels: .reference))
            try interpreter.allocateTensors()
            XCTAssertEqual(try interpreter.outputInfo(at: 0).shape, keep ? [2, 3, 5] : [6, 5])
        }
    }

    private func fullyConnected(_ type: TensorType = .float32, input: [Int] = [2, 4], weights: [Int] = [3, 4],
                                weightsType: TensorType? = nil, weightsQ: QuantizationParameters? = nil,
                                configure: (inout FullyConnectedOptions) -> Void = { _ in }) -> OpModelBuilder {
        var b = OpModelBuilder()
        let q = type == .float32 ? nil : quant(0.1, 0)
        let x = b.input("x", type, input, quantization: q)
        let wt = weightsType ?? type
        let w = b.constant("w", wt, weights, bytes: [UInt8](repeating: 1, count: weights.reduce(1, *) * (wt.byteSize ?? 1)),
                           quantization: weightsQ ?? (wt == .float32 ? nil : quant(0.1, 0)))
        let y = b.tensor("y", type, [1], quantization: q)
        var o = FullyConnectedOptions()
        configure(&o)
        b.op(.fullyConnected, inputs: [x, w], outputs: [y], options: .fullyConnected(o), version: 4)
        return b
    }

    func testFullyConnectedRefusesInvalidConfigurations() {
        assertRefused(fullyConnected { $0.weightsFormat = 1 }, op: "FULLY_CONNECTED", "weights format")
        assertRefused(fullyConnected(input: [2, 5]), op: "FULLY_CONNECTED", "depth 4")
        assertRefused(fullyConnected(input: [2, 3, 8], weights: [3, 6]) { $0.keepNumDims = true },
                      op: "FULLY_CONNECTED", "keep_num_dims")
        assertRefused(fullyConnected(weights: [3, 2, 2]), op: "FULLY_CONNECTED", "2-D")
        assertRefused(fullyConnected(weightsType: .int8), op: "FULLY_CONNECTED", "hybrid")
        assertRefused(fullyConnected(.int16), op: "FULLY_CONNECTED", "int16")
        assertRefused(fullyConnected { $0.activation = .tanh }, op: "FULLY_CONNECTED", "tanh")
        assertRefused(fullyConnected(.uint8, weightsQ: perChannel([0.1, 0.2, 0.3], axis: 0)), op: "FULLY_CONNECTED",
                      "per-channel")
        assertRefused(fullyConnected(.int8, weightsQ: QuantizationParameters(scales: [0.1, 0.2, 0.3], zeroPoints: [0, 1, 0])),
                      op: "FULLY_CONNECTED", "symmetric")
    }

    /// Shuffled weights and rows that do not divide the input are refused by LiteRT as well.
    func testRefusalsAgreeWithLiteRT() throws {
        try assertBothRefuse("shuffled weights", fullyConnected { $0.weightsFormat = 1 }, inputs: [[UInt8](repeating: 0, count: 32)])
        try assertBothRefuse("2-D weights needed", fullyConnected(weights: [3, 2, 2]), inputs: [[UInt8](repeating: 0, count: 32)])
    }
}
