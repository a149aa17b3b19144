import XCTest
import MagpieEngine
import MagpieModel
import MagpieTestSupport

/// A convolution configuration for the differential tests.
struct ConvCase {
    var label: String
    var type: TensorType
    var input: [Int]
    /// CONV_2D: `[O, H, W, I]`; DEPTHWISE_CONV_2D: `[1, H, W, C·M]`.
    var filter: [Int]
    var padding: Padding = .same
    var stride = (h: 1, w: 1)
    var dilation = (h: 1, w: 1)
    var activation: FusedActivation = .none
    var inputQ: (scale: Float, zeroPoint: Int) = (0.05, 0)
    /// One scale (per tensor) or one per output channel.
    var filterScales: [Float] = [0.02]
    var filterZeroPoint = 0
    /// nil: chosen from the input and filter statistics so that the outputs spread over the type's range
    /// (`outputScaleFactor` then shrinks or stretches that choice to force saturation or coarse outputs).
    var outputScale: Float?
    var outputZeroPoint: Int?
    var outputScaleFactor: Float = 1
    var bias = true
    /// Quantized input and filter value ranges (default: the whole type; int8 filters -127...127).
    var inputRange: ClosedRange<Int>?
    var filterRange: ClosedRange<Int>?
}

/// Mean and mean square of `q - zeroPoint` for `q` uniform over `range`.
private func moments(_ range: ClosedRange<Int>, zeroPoint: Int) -> (mean: Double, meanSquare: Double) {
    let lo = Double(range.lowerBound - zeroPoint), hi = Double(range.upperBound - zeroPoint)
    let n = hi - lo + 1, mean = (lo + hi) / 2
    return (mean, (n * n - 1) / 12 + mean * mean)
}

/// An output scale and zero point that cover mean ± 2.5 standard deviations (and 0) of `K` products of independent
/// uniform integers (the accumulator), in real units of `productScale`.
func autoOutputQuantization(type: TensorType, k: Int, productScale: Float, input: (ClosedRange<Int>, Int),
                            filter: (ClosedRange<Int>, Int), factor: Float) -> (scale: Float, zeroPoint: Int) {
    let x = moments(input.0, zeroPoint: input.1), w = moments(filter.0, zeroPoint: filter.1)
    let mean = Double(k) * x.mean * w.mean
    let variance = Double(k) * max(x.meanSquare * w.meanSquare - x.mean * x.mean * w.mean * w.mean, 1)
    let sigma = variance.squareRoot()
    // The real range must contain 0 (the zero point is an integer of the type).
    let lo = min(mean - 2.5 * sigma, 0), hi = max(mean + 2.5 * sigma, 0)
    let (qmin, qmax) = type == .uint8 ? (0.0, 255.0) : (-128.0, 127.0)
    let scale = Float((hi - lo) / (qmax - qmin)) * productScale * factor
    let zeroPoint = (qmin - lo * Double(productScale) / Double(scale)).rounded()
    return (scale, Int(min(max(zeroPoint, qmin), qmax)))
}

extension DifferentialModel {
    /// Adds a CONV_2D or DEPTHWISE_CONV_2D over a fresh random input with random constant filter and bias.
    mutating func addConvolution(_ c: ConvCase, depthwise: Bool) {
        let outputDepth = depthwise ? c.filter[3] : c.filter[0]
        let outputShape = [c.input[0],
                           windowedOutputSize(c.input[1], filter: c.filter[1], stride: c.stride.h, dilation: c.dilation.h, padding: c.padding),
                           windowedOutputSize(c.input[2], filter: c.filter[2], stride: c.stride.w, dilation: c.dilation.w, padding: c.padding),
                           outputDepth]
        let k = c.filter[1] * c.filter[2] * (depthwise ? 1 : c.filter[3])
        var inputQ: QuantizationParameters?, filterQ: QuantizationParameters?, outputQ: QuantizationParameters?
        var biasQ: QuantizationParameters?
        var biasRange: ClosedRange<Int>?
        var inputRange = c.inputRange, filterRange = c.filterRange
        if c.type != .float32 {
            let full = c.type == .uint8 ? 0...255 : -128...127
            inputRange = inputRange ?? full
            filterRange = filterRange ?? (c.type == .int8 ? -127...127 : full)
            let productScale = c.inputQ.scale * c.filterScales.max()!
            let auto = autoOutputQuantization(type: c.type, k: k, productScale: productScale,
                                              input: (inputRange!, c.inputQ.zeroPoint),
                                              filter: (filterRange!, c.filterZeroPoint), factor: c.outputScaleFactor)
            let outputScale = c.outputScale ?? auto.scale
            inputQ = quant(c.inputQ.scale, c.inputQ.zeroPoint)
            outputQ = quant(outputScale, c.outputZeroPoint ?? auto.zeroPoint)
            let channelScales = c.filterScales.count == 1 ? [Float](repeating: c.filterScales[0], count: outputDepth) : c.filterScales
            if c.filterScales.count == 1 {
                filterQ = quant(c.filterScales[0], c.filterZeroPoint)
                biasQ = quant(c.inputQ.scale * c.filterScales[0], 0)
            } else {
                filterQ = perChannel(c.filterScales, axis: depthwise ? 3 : 0)
                biasQ = QuantizationParameters(scales: channelScales.map { c.inputQ.scale * $0 },
                                               zeroPoints: [Int64](repeating: 0, count: outputDepth))
            }
            let bound = max(1, min(1_000_000, Int(20 * outputScale / (c.inputQ.scale * c.filterScales.min()!))))
            biasRange = -bound...bound
        }
        let x = input("\(c.label).x", c.type, c.input, inputQ, range: inputRange)
        let w = randomConstant("\(c.label).w", c.type, c.filter, filterQ, range: filterRange, floatRange: -1...1)
        var inputs = [x, w]
        if c.bias {
            let biasType: TensorType = c.type == .float32 ? .float32 : .int32
            inputs.append(randomConstant("\(c.label).b", biasType, [outputDepth], biasQ, range: biasRange, floatRange: -1...1))
        }
        let y = output(c.label, c.type, outputShape, outputQ)
        if depthwise {
            var o = DepthwiseConv2DOptions()
            o.padding = c.padding
            o.strideHeight = c.stride.h; o.strideWidth = c.stride.w
            o.dilationHeight = c.dilation.h; o.dilationWidth = c.dilation.w
            o.depthMultiplier = outputDepth / c.input[3]
            o.activation = c.activation
            builder.op(.depthwiseConv2D, inputs: inputs, outputs: [y], options: .depthwiseConv2D(o), version: 3)
        } else {
            var o = Conv2DOptions()
            o.padding = c.padding
            o.strideHeight = c.stride.h; o.strideWidth = c.stride.w
            o.dilationHeight = c.dilation.h; o.dilationWidth = c.dilation.w
            o.activation = c.activation
            builder.op(.conv2D, inputs: inputs, outputs: [y], options: .conv2D(o), version: 3)
        }
    }
}

/// A filter scale that puts the real accumulator's spread near ±3 (so relu6 and reluN1To1 clip only part of it):
/// `3 / (5400·sqrt(k)·input_scale)`, 5400 being about the spread of a product of two full-range 8-bit values.
func unitFilterScale(inputScale: Float, k: Int) -> Float {
    3 / (5400 * Float(k).squareRoot() * inputScale)
}

/// Spread per-channel scales: `count` values between `low` and `high`, geometrically.
func spreadScales(_ count: Int, _ low: Float, _ high: Float) -> [Float] {
    (0..<count).map { i in low * Float(pow(Double(high / low), Double(i) / Double(max(count - 1, 1)))) }
}

final class ConvolutionOpsTests: XCTestCase {
    // MARK: CONV_2D, differential

    func testConv2DFloatMatchesLiteRT() throws {
        var m = DifferentialModel(seed: 1)
        let cases: [ConvCase] = [
            ConvCase(label: "3x3 same", type: .float32, input: [1, 7, 9, 3], filter: [8, 3, 3, 3]),
            ConvCase(label: "3x3 valid stride2 relu6", type: .float32, input: [2, 8, 8, 4], filter: [5, 3, 3, 4],
                     padding: .valid, stride: (2, 2), activation: .relu6),
            ConvCase(label: "dilated relu", type: .float32, input: [1, 9, 7, 3], filter: [4, 2, 3, 3],
                     stride: (2, 1), dilation: (2, 3), activation: .relu),
            ConvCase(label: "grouped reluN1To1", type: .float32, input: [1, 5, 5, 8], filter: [6, 3, 3, 4],
                     activation: .reluN1To1),
            ConvCase(label: "1x1 17 channels", type: .float32, input: [1, 4, 4, 17], filter: [3, 1, 1, 17]),
            ConvCase(label: "filter wider than input", type: .float32, input: [1, 2, 3, 2], filter: [2, 5, 5, 2],
                     stride: (1, 2)),
            ConvCase(label: "1 channel odd valid", type: .float32, input: [1, 11, 5, 1], filter: [1, 4, 2, 1],
                     padding: .valid, stride: (3, 2)),
        ]
        for c in cases { m.addConvolution(c, depthwise: false) }
        try m.assertMatchesLiteRT()
    }

    func testConv2DUInt8MatchesLiteRT() throws {
        var m = DifferentialModel(seed: 2)
        let cases: [ConvCase] = [
            // mobilenet_v2_1.0_224_quant's first layer quantization.
            ConvCase(label: "mid zero points", type: .uint8, input: [1, 7, 9, 3], filter: [8, 3, 3, 3],
                     inputQ: (0.0078125, 128), filterScales: [0.034], filterZeroPoint: 122),
            ConvCase(label: "zp 255/255 stride2 valid", type: .uint8, input: [2, 8, 8, 4], filter: [5, 3, 3, 4],
                     padding: .valid, stride: (2, 2), inputQ: (0.02, 255), filterScales: [0.005], filterZeroPoint: 255),
            ConvCase(label: "zp 0/0", type: .uint8, input: [1, 5, 4, 3], filter: [2, 2, 2, 3],
                     inputQ: (0.02, 0), filterScales: [0.005], filterZeroPoint: 0),
            ConvCase(label: "zp 255/0 dilated", type: .uint8, input: [1, 9, 7, 8], filter: [4, 2, 3, 8],
                     stride: (2, 1), dilation: (2, 3), inputQ: (0.1, 255), filterScales: [0.01], filterZeroPoint: 0),
            ConvCase(label: "relu6 output 6/255", type: .uint8, input: [1, 6, 7, 3], filter: [6, 3, 3, 3],
                     activation: .relu6, inputQ: (0.0078125, 128),
                     filterScales: [unitFilterScale(inputScale: 0.0078125, k: 27)], filterZeroPoint: 128,
                     outputScale: 0.023528477177023888, outputZeroPoint: 0),
            ConvCase(label: "reluN1To1", type: .uint8, input: [1, 6, 6, 2], filter: [3, 3, 3, 2],
                     activation: .reluN1To1, inputQ: (0.05, 128),
                     filterScales: [unitFilterScale(inputScale: 0.05, k: 18)], filterZeroPoint: 128,
                     outputScale: 1 / 127.5, outputZeroPoint: 128),
            ConvCase(label: "multiplier 3", type: .uint8, input: [1, 5, 5, 3], filter: [3, 3, 3, 3],
                     inputQ: (0.5, 100), filterScales: [0.25], filterZeroPoint: 130, outputScale: 0.5 * 0.25 / 3,
                     outputZeroPoint: 128, inputRange: 97...103, filterRange: 127...133),
            ConvCase(label: "saturating output scale", type: .uint8, input: [1, 5, 5, 3], filter: [3, 3, 3, 3],
                     inputQ: (0.5, 100), filterScales: [0.25], filterZeroPoint: 130, outputScaleFactor: 0.05),
            ConvCase(label: "coarse output scale 1x1", type: .uint8, input: [1, 5, 5, 17], filter: [17, 1, 1, 17],
                     inputQ: (0.001, 7), filterScales: [0.002], filterZeroPoint: 200, outputScaleFactor: 20),
        ]
        for c in cases { m.addConvolution(c, depthwise: false) }
        try m.assertMatchesLiteRT()
    }

    func testConv2DInt8PerChannelMatchesLiteRT() throws {
        var m = DifferentialModel(seed: 3)
        let cases: [ConvCase] = [
            // tf2_mobilenet_v2_1.0_224_ptq's first layer: input (1/127.5, -1), output (0.02353, -128), relu6.
            ConvCase(label: "mobilenet first conv", type: .int8, input: [1, 9, 9, 3], filter: [32, 3, 3, 3],
                     padding: .same, stride: (2, 2), activation: .relu6, inputQ: (0.007843137718737125, -1),
                     filterScales: spreadScales(32, 0.3 * unitFilterScale(inputScale: 0.007843137718737125, k: 27),
                                                3 * unitFilterScale(inputScale: 0.007843137718737125, k: 27)),
                     outputScale: 0.0235294122248888, outputZeroPoint: -128),
            ConvCase(label: "input zp -128, output zp 127", type: .int8, input: [2, 8, 8, 4], filter: [5, 3, 3, 4],
                     padding: .valid, stride: (2, 2), inputQ: (0.02, -128), filterScales: spreadScales(5, 1e-4, 0.1),
                     outputZeroPoint: 127),
            ConvCase(label: "input zp 127 dilated relu", type: .int8, input: [1, 9, 7, 3], filter: [4, 2, 3, 3],
                     stride: (2, 1), dilation: (2, 3), activation: .relu, inputQ: (0.1, 127),
                     filterScales: spreadScales(4, 0.003, 0.03)),
            ConvCase(label: "per-tensor int8", type: .int8, input: [1, 6, 5, 17], filter: [8, 1, 1, 17],
                     inputQ: (0.05, 3), filterScales: [0.01]),
            ConvCase(label: "grouped int8", type: .int8, input: [1, 5, 5, 4], filter: [6, 3, 3, 2],
                     inputQ: (0.05, -3), filterScales: spreadScales(6, 0.01, 0.02)),
            ConvCase(label: "reluN1To1", type: .int8, input: [1, 5, 5, 3], filter: [3, 3, 3, 3],
                     activation: .reluN1To1, inputQ: (0.05, 0),
                     filterScales: spreadScales(3, unitFilterScale(inputScale: 0.05, k: 27), 2 * unitFilterScale(inputScale: 0.05, k: 27)),
                     outputScale: 0.01, outputZeroPoint: 0),
            ConvCase(label: "multipliers 3 to 6", type: .int8, input: [1, 5, 5, 3], filter: [3, 3, 3, 3],
                     inputQ: (0.5, 0), filterScales: spreadScales(3, 0.2, 0.4), outputScale: 0.5 * 0.2 / 3,
                     outputZeroPoint: 0, inputRange: -3...3, filterRange: -3...3),
            ConvCase(label: "1x1", type: .int8, input: [1, 4, 4, 8], filter: [3, 1, 1, 8],
                     inputQ: (0.05, 10), filterScales: spreadScales(3, 0.01, 0.05)),
        ]
        for c in cases { m.addConvolution(c, depthwise: false) }
        try m.assertMatchesLiteRT()
    }

    /// LiteRT 2.3.0 refuses CONV_2D without bias (`has_bias was not true`); Magpie accepts it and must then equal the
    /// same convolution with an explicit zero bias, which LiteRT does run.
    func testConv2DWithoutBiasEqualsZeroBias() throws {
        /// One CONV_2D per type, all reading the same random data whichever the bias.
        func model(withBias: Bool) -> DifferentialModel {
            var m = DifferentialModel(seed: 44)
            for type in [TensorType.float32, .uint8, .int8] {
                let inputQ = type == .float32 ? nil : quant(0.05, type == .uint8 ? 128 : 0)
                let filterQ = type == .float32 ? nil : (type == .uint8 ? quant(0.02, 130) : perChannel([0.02, 0.03, 0.01], axis: 0))
                let x = m.input("\(type) x", type, [1, 5, 6, 4], inputQ)
                let w = m.randomConstant("\(type) w", type, [3, 3, 3, 4], filterQ, range: type == .int8 ? -127...127 : nil,
                                         floatRange: -1...1)
                var inputs = [x, w]
                if withBias {
                    let q = type == .float32 ? nil : quant(0.05 * 0.02, 0)
                    inputs.append(m.builder.constant("\(type) b", type == .float32 ? .float32 : .int32, [3],
                                                     bytes: [UInt8](repeating: 0, count: 12), quantization: q))
                }
                let y = m.output("\(type) conv without bias", type, [1, 5, 6, 3], type == .float32 ? nil : quant(0.3, 5))
                var o = Conv2DOptions()
                o.strideHeight = 1; o.strideWidth = 1
                m.builder.op(.conv2D, inputs: inputs, outputs: [y], options: .conv2D(o), version: 3)
            }
            return m
        }
        let withoutBias = model(withBias: false), withBias = model(withBias: true)
        XCTAssertEqual(withoutBias.inputData, withBias.inputData)
        let mine = try withoutBias.builder.run(withoutBias.inputData)
        XCTAssertEqual(mine, try withBias.builder.run(withBias.inputData))
        if let reason = LiteRTReference.unavailableReason { throw XCTSkip(reason) }
        let refused = try LiteRTReference.run(model: withoutBias.builder.build(), inputs: withoutBias.inputData, outputCount: 3)
        guard case .refused = refused else { return XCTFail("LiteRT now accepts CONV_2D without bias: update the docs") }
        guard case let .outputs(theirs) = try LiteRTReference.run(model: withBias.builder.build(),
                                                                 inputs: withBias.inputData, outputCount: 3) else {
            return XCTFail("LiteRT refused the zero-bias model")
        }
        for (k, output) in withoutBias.outputs.enumerated() {
            DifferentialModel.compare(output.label, output.type, mine[k], theirs[k])
        }
    }

    // MARK: DEPTHWISE_CONV_2D, differential

    func testDepthwiseConv2DMatchesLiteRT() throws {
        var m = DifferentialModel(seed: 5)
        let cases: [ConvCase] = [
            ConvCase(label: "float 3x3", type: .float32, input: [1, 7, 9, 3], filter: [1, 3, 3, 3]),
            ConvCase(label: "float multiplier 2 stride2 valid relu6", type: .float32, input: [2, 8, 8, 4],
                     filter: [1, 3, 3, 8], padding: .valid, stride: (2, 2), activation: .relu6),
            ConvCase(label: "float multiplier 3 dilated", type: .float32, input: [1, 9, 7, 1], filter: [1, 2, 3, 3],
                     stride: (1, 2), dilation: (3, 2), activation: .reluN1To1),
            ConvCase(label: "float no bias 17", type: .float32, input: [1, 5, 5, 17], filter: [1, 3, 3, 17], bias: false),
            // mobilenet_v2_1.0_224_quant's depthwise layers: input (0.02353, 0), relu6 on the same scale.
            ConvCase(label: "uint8 mobilenet-like relu6", type: .uint8, input: [1, 9, 9, 8], filter: [1, 3, 3, 8],
                     stride: (2, 2), activation: .relu6, inputQ: (0.023528477177023888, 0),
                     filterScales: [unitFilterScale(inputScale: 0.023528477177023888, k: 9)], filterZeroPoint: 110,
                     outputScale: 0.023528477177023888, outputZeroPoint: 0),
            ConvCase(label: "uint8 zp 255/0 multiplier 2 dilated", type: .uint8, input: [1, 8, 7, 3], filter: [1, 3, 2, 6],
                     dilation: (2, 2), inputQ: (0.05, 255), filterScales: [0.01], filterZeroPoint: 0),
            ConvCase(label: "uint8 valid saturating", type: .uint8, input: [1, 6, 6, 2], filter: [1, 3, 3, 2],
                     padding: .valid, inputQ: (0.5, 0), filterScales: [0.5], filterZeroPoint: 128, outputScaleFactor: 0.05),
            ConvCase(label: "uint8 multiplier 2.5", type: .uint8, input: [1, 5, 6, 3], filter: [1, 3, 3, 3],
                     inputQ: (0.5, 128), filterScales: [0.5], filterZeroPoint: 128, outputScale: 0.1,
                     outputZeroPoint: 120, inputRange: 124...132, filterRange: 124...132),
            ConvCase(label: "int8 per-channel relu6", type: .int8, input: [1, 9, 9, 8], filter: [1, 3, 3, 8],
                     stride: (2, 2), activation: .relu6, inputQ: (0.0235294122248888, -128),
                     filterScales: spreadScales(8, 0.3 * unitFilterScale(inputScale: 0.0235294122248888, k: 9),
                                                3 * unitFilterScale(inputScale: 0.0235294122248888, k: 9)),
                     outputScale: 0.0235294122248888, outputZeroPoint: -128),
            ConvCase(label: "int8 multiplier 4 zp 127", type: .int8, input: [1, 7, 6, 2], filter: [1, 3, 3, 8],
                     padding: .valid, inputQ: (0.05, 127), filterScales: spreadScales(8, 0.01, 0.02)),
            ConvCase(label: "int8 per-tensor dilated coarse", type: .int8, input: [1, 8, 8, 3], filter: [1, 2, 2, 3],
                     dilation: (3, 3), inputQ: (0.2, -50), filterScales: [0.05], outputScaleFactor: 20),
            ConvCase(label: "int8 multiplier > 1 relu no bias", type: .int8, input: [1, 5, 5, 4], filter: [1, 3, 3, 4],
                     activation: .relu, inputQ: (0.5, 0), filterScales: spreadScales(4, 0.3, 0.4), outputScale: 0.06,
                     outputZeroPoint: -20, bias: false, inputRange: -4...4, filterRange: -4...4),
        ]
        for c in cases { m.addConvolution(c, depthwise: true) }
        try m.assertMatchesLiteRT()
    }

    // MARK: Hand-computed (no LiteRT needed)

    /// uint8 CONV_2D, 2×2 VALID: input q [130, 132, 126, 128] (scale 0.5, zp 128: reals [1, 2, -1, 0]), filter
    /// q [132, 128, 124, 136] (scale 0.25, zp 128: reals [1, 0, -1, 2]), bias 8 (scale 0.125: real 1).
    /// acc = 2·4 + 4·0 + (-2)(-4) + 0·8 = 16, plus bias 24; multiplier 0.5·0.25/1 = 0.125 → 3; zp 0 → 3
    /// (real: 1 + 0 + 1 + 0 + 1 = 3). With relu6 on output scale 0.5 (zp 0) the 6.0 bound is 12: 24·0.25 = 6 stays.
    func testConv2DUInt8HandComputed() throws {
        for (outputScale, expected) in [(Float(1), UInt8(3)), (0.5, 6)] {
            var b = OpModelBuilder()
            let x = b.input("x", .uint8, [1, 2, 2, 1], quantization: quant(0.5, 128))
            let w = b.constant("w", .uint8, [1, 2, 2, 1], bytes: [132, 128, 124, 136], quantization: quant(0.25, 128))
            let bias = b.constant("b", .int32, [1], bytes: Bytes.of([Int32(8)]), quantization: quant(0.125, 0))
            let y = b.tensor("y", .uint8, [1, 1, 1, 1], quantization: quant(outputScale, 0))
            var o = Conv2DOptions()
            o.padding = .valid; o.strideWidth = 1; o.strideHeight = 1; o.activation = .relu6
            b.op(.conv2D, inputs: [x, w, bias], outputs: [y], options: .conv2D(o))
            XCTAssertEqual(try b.run([[130, 132, 126, 128]]), [[expected]])
        }
    }

    /// float CONV_2D SAME 3×3 on a 2×2 single-channel input of ones with a filter of ones: every output sees the whole
    /// input (4), plus bias 0.5; relu6 clamps nothing. Grouped: 2 input channels, 2 filters of depth 1.
    func testConv2DFloatHandComputed() throws {
        var b = OpModelBuilder()
        let x = b.input("x", .float32, [1, 2, 2, 2])
        let w = b.constant("w", .float32, [2, 3, 3, 1], bytes: Bytes.of([Float](repeating: 1, count: 9) + [Float](repeating: -1, count: 9)))
        let bias = b.constant("b", .float32, [2], bytes: Bytes.of([Float(0.5), 0.25]))
        let y = b.tensor("y", .float32, [1, 2, 2, 2])
        var o = Conv2DOptions()
        o.strideWidth = 1; o.strideHeight = 1
        b.op(.conv2D, inputs: [x, w, bias], outputs: [y], options: .conv2D(o))
        // Channel 0 holds 1s, channel 1 holds 2s: group 0 sums 4·1 + 0.5, group 1 sums -(4·2) + 0.25.
        let out = Bytes.floats(try b.run([Bytes.of([Float](repeating: 0, count: 8).enumerated().map { Float($0.offset % 2 + 1) })])[0])
        XCTAssertEqual(out, [4.5, -7.75, 4.5, -7.75, 4.5, -7.75, 4.5, -7.75])
    }

    /// int8 DEPTHWISE_CONV_2D, depth multiplier 2, per-channel scales [0.5, 0.25], input scale 1 zp -1, output scale 1
    /// zp 0: input q [3] (real 4), filter q [2, 4] → acc = [2·4, 4·4] = [8, 16] + bias [1, -2] = [9, 14];
    /// multipliers 0.5 and 0.25 → [4.5 → 5 (half away from zero), 3.5 → 4].
    func testDepthwiseInt8HandComputed() throws {
        var b = OpModelBuilder()
        let x = b.input("x", .int8, [1, 1, 1, 1], quantization: quant(1, -1))
        let w = b.constant("w", .int8, [1, 1, 1, 2], bytes: [2, 4], quantization: perChannel([0.5, 0.25], axis: 3))
        let bias = b.constant("b", .int32, [2], bytes: Bytes.of([Int32(1), -2]),
                              quantization: QuantizationParameters(scales: [0.5, 0.25], zeroPoints: [0, 0]))
        let y = b.tensor("y", .int8, [1, 1, 1, 2], quantization: quant(1, 0))
        var o = DepthwiseConv2DOptions()
        o.strideWidth = 1; o.strideHeight = 1; o.depthMultiplier = 2
        b.op(.depthwiseConv2D, inputs: [x, w, bias], outputs: [y], options: .depthwiseConv2D(o), version: 3)
        XCTAssertEqual(try b.run([[3]]), [[5, 4]])
    }

    /// Output shapes follow TensorFlow's windowed sizes: 7 with 3×3 stride 2 gives 4 (SAME) and 3 (VALID); dilation 2
    /// makes the 3×3 window 5 wide, so VALID on 7 gives 3 at stride 1.
    func testConvolutionOutputShapes() throws {
        for (padding, stride, dilation, expected) in [(Padding.same, 2, 1, 4), (.valid, 2, 1, 3), (.valid, 1, 2, 3), (.same, 1, 2, 7)] {
            var b = OpModelBuilder()
            let x = b.input("x", .float32, [1, 7, 7, 1])
            let w = b.constant("w", .float32, [1, 3, 3, 1], bytes: Bytes.of([Float](repeating: 1, count: 9)))
            let bias = b.constant("b", .float32, [1], bytes: Bytes.of([Float(0)]))
            let y = b.tensor("y", .float32, [1])
            var o = Conv2DOptions()
            o.padding = padding; o.strideWidth = stride; o.strideHeight = stride
            o.dilationWidth = dilation; o.dilationHeight = dilation
            b.op(.conv2D, inputs: [x, w, bias], outputs: [y], options: .conv2D(o))
            let interpreter = try Interpreter(model: try Model(data: b.build()), options: .init(kernels: .reference))
            try interpreter.allocateTensors()
            XCTAssertEqual(try interpreter.outputInfo(at: 0).shape, [1, expected, expected, 1], "\(padding) \(stride) \(dilation)")
        }
    }

    // MARK: Refusals

    private func conv(_ type: TensorType = .float32, input: [Int] = [1, 4, 4, 2], filter: [Int] = [3, 3, 3, 2],
                      filterType: TensorType? = nil, filterQ: QuantizationParameters? = nil, biasCount: Int? = 3,
                      biasType: TensorType? = nil, outputType: TensorType? = nil,
                      configure: (inout Conv2DOptions) -> Void = { _ in }) -> OpModelBuilder {
        var b = OpModelBuilder()
        let q = type == .float32 ? nil : quant(0.1, 0)
        let x = b.input("x", type, input, quantization: q)
        let fType = filterType ?? type
        let w = b.constant("w", fType, filter, bytes: [UInt8](repeating: 1, count: filter.reduce(1, *) * (fType.byteSize ?? 1)),
                           quantization: filterQ ?? (fType == .float32 ? nil : quant(0.1, 0)))
        var inputs = [x, w]
        if let biasCount {
            let bt = biasType ?? (type == .float32 ? .float32 : .int32)
            inputs.append(b.constant("b", bt, [biasCount], bytes: [UInt8](repeating: 0, count: biasCount * (bt.byteSize ?? 1)),
                                     quantization: type == .float32 ? nil : quant(0.01, 0)))
        }
        let y = b.tensor("y", outputType ?? type, [1], quantization: q)
        var o = Conv2DOptions()
        o.strideWidth = 1; o.strideHeight = 1
        configure(&o)
        b.op(.conv2D, inputs: inputs, outputs: [y], options: .conv2D(o), version: 3)
        return b
    }

    func testConv2DRefusesInvalidConfigurations() {
        assertRefused(conv(filter: [3, 3, 2]), op: "CONV_2D", "4-D")
        assertRefused(conv(input: [1, 4, 4, 5]), op: "CONV_2D", "multiple")
        assertRefused(conv(outputType: .int8), op: "CONV_2D", "output type")
        assertRefused(conv(filterType: .int8), op: "CONV_2D", "hybrid")
        assertRefused(conv(.int16), op: "CONV_2D", "int16")
        assertRefused(conv { $0.strideWidth = 0 }, op: "CONV_2D", "stride_w")
        assertRefused(conv { $0.dilationHeight = 0 }, op: "CONV_2D", "dilation_h")
        assertRefused(conv { $0.activation = .tanh }, op: "CONV_2D", "tanh")
        assertRefused(conv(biasCount: 2), op: "CONV_2D", "bias")
        assertRefused(conv(biasType: .int32), op: "CONV_2D", "bias type")
        assertRefused(conv(filter: [3, 6, 6, 2]) { $0.padding = .valid }, op: "CONV_2D", "wider than the input")
        assertRefused(conv(.int8, filterQ: quant(0.1, 3)), op: "CONV_2D", "symmetric")
        // (A scale count that does not match its dimension is already refused when the model is read.)
        assertRefused(conv(.int8, input: [1, 4, 4, 3], filter: [3, 3, 3, 3], filterQ: perChannel([0.1, 0.2, 0.3], axis: 3)),
                      op: "CONV_2D", "dimension 0")
        assertRefused(conv(.uint8, filterQ: perChannel([0.1, 0.2, 0.3], axis: 0)), op: "CONV_2D", "per-channel")
        // uint8 bias scale 0.01 = input 0.1 × filter 0.1, so a filter scale of 0.5 breaks TFLite's 2% rule.
        assertRefused(conv(.uint8, filterQ: quant(0.5, 0)), op: "CONV_2D", "bias scale")
    }

    func testDepthwiseConv2DRefusesInvalidConfigurations() {
        func depthwise(filter: [Int], input: [Int] = [1, 4, 4, 2], type: TensorType = .float32,
                       filterQ: QuantizationParameters? = nil) -> OpModelBuilder {
            var b = OpModelBuilder()
            let q = type == .float32 ? nil : quant(0.1, 0)
            let x = b.input("x", type, input, quantization: q)
            let w = b.constant("w", type, filter, bytes: [UInt8](repeating: 1, count: filter.reduce(1, *) * (type.byteSize ?? 1)),
                               quantization: filterQ ?? q)
            let y = b.tensor("y", type, [1], quantization: q)
            var o = DepthwiseConv2DOptions()
            o.strideWidth = 1; o.strideHeight = 1
            b.op(.depthwiseConv2D, inputs: [x, w], outputs: [y], options: .depthwiseConv2D(o), version: 3)
            return b
        }
        assertRefused(depthwise(filter: [2, 3, 3, 2]), op: "DEPTHWISE_CONV_2D", "first dimension")
        assertRefused(depthwise(filter: [1, 3, 3, 3]), op: "DEPTHWISE_CONV_2D", "multiple")
        assertRefused(depthwise(filter: [1, 4, 4, 4], type: .int8, filterQ: perChannel([1, 2, 3, 4], axis: 1)),
                      op: "DEPTHWISE_CONV_2D", "dimension 3")
        assertRefused(depthwise(filter: [1, 3, 3, 2], type: .int8, filterQ: quant(0.1, 5)), op: "DEPTHWISE_CONV_2D", "symmetric")
    }

    /// Configurations LiteRT refuses are refused by Magpie too (one model per case, both engines).
    func testRefusalsAgreeWithLiteRT() throws {
        var cases: [(String, OpModelBuilder)] = [
            ("stride 0", conv { $0.strideHeight = 0 }),
            ("int8 filter zero point", conv(.int8, filterQ: quant(0.1, 3))),
            ("uint8 bias scale", conv(.uint8, filterQ: quant(0.5, 0))),
            ("bias count", conv(biasCount: 2)),
        ]
        var b = OpModelBuilder()
        let x = b.input("x", .float32, [1, 4, 4, 2])
        let w = b.constant("w", .float32, [2, 3, 3, 2], bytes: [UInt8](repeating: 0, count: 144))
        let y = b.tensor("y", .float32, [1, 4, 4, 2])
        var o = DepthwiseConv2DOptions()
        o.strideWidth = 1; o.strideHeight = 1
        b.op(.depthwiseConv2D, inputs: [x, w], outputs: [y], options: .depthwiseConv2D(o))
        cases.append(("depthwise filter dim 0", b))
        for (name, builder) in cases {
            XCTAssertThrowsError(try Interpreter(model: try Model(data: builder.build())).allocateTensors(), name)
        }
        if let reason = LiteRTReference.unavailableReason { throw XCTSkip(reason) }
        for (name, builder) in cases {
            let inputBytes = [UInt8](repeating: 0, count: 32 * (name.contains("int8") || name.contains("uint8") ? 1 : 4))
            let outcome = try LiteRTReference.run(model: builder.build(), inputs: [inputBytes], outputCount: 1)
            guard case .refused = outcome else { XCTFail("\(name): LiteRT accepted it"); continue }
        }
    }
}
