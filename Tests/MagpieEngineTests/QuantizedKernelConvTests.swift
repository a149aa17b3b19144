import Foundation
import XCTest
import MagpieEngine
import MagpieModel
import MagpieTestSupport

/// The optimized quantized CONV_2D / DEPTHWISE_CONV_2D kernels (AVX2, AVX-512 VNNI or AMX, whichever this CPU and
/// `MAGPIE_MAX_ISA` select) against the reference kernels, in both arithmetics (`Requantization`): byte-identical
/// outputs at tile edges (rows around
/// multiples of 6/8/12/24/32, columns around multiples of 8/16/64, reductions around multiples of 2/4/64), strides,
/// paddings, dilations, activations, zero points, and 1-3 threads.
final class QuantizedKernelConvTests: XCTestCase {
    struct Case {
        var type: TensorType
        var height: Int, width: Int, inputDepth: Int, outputDepth: Int
        var filter = 1
        var stride = 1
        var dilation = 1
        var padding: Padding = .same
        var activation: FusedActivation = .none
        var depthwise = false
        /// Output scale relative to input scale x filter scale (small values exercise left shifts).
        var outputScaleFactor: Float = 100
        var batches = 1
    }

    /// Builds the one-operator model and its random input.
    func model(_ c: Case, seed: UInt64) -> (OpModelBuilder, [UInt8]) {
        var rng = SeededGenerator(seed: seed)
        var b = OpModelBuilder()
        let inputScale: Float = 0.05
        let inputZeroPoint = c.type == .uint8 ? Int.random(in: 0...255, using: &rng) : Int.random(in: -128...127, using: &rng)
        let x = b.input("x", c.type, [c.batches, c.height, c.width, c.inputDepth], quantization: quant(inputScale, inputZeroPoint))
        let channels = c.outputDepth
        let filterShape = c.depthwise ? [1, c.filter, c.filter, channels] : [channels, c.filter, c.filter, c.inputDepth]
        let filterCount = filterShape.reduce(1, *)
        var filterScales: [Float]
        var filterQuant: QuantizationParameters
        var filterBytes: [UInt8]
        if c.type == .int8 {
            filterScales = (0..<channels).map { _ in Float.random(in: 0.002...0.02, using: &rng) }
            filterQuant = QuantizationParameters(scales: filterScales, zeroPoints: [Int64](repeating: 0, count: channels),
                                                 quantizedDimension: c.depthwise ? 3 : 0)
            filterBytes = (0..<filterCount).map { _ in UInt8(bitPattern: Int8(Int.random(in: -127...127, using: &rng))) }
        } else {
            let s = Float.random(in: 0.002...0.02, using: &rng)
            filterScales = [Float](repeating: s, count: channels)
            let zw = Int.random(in: 0...255, using: &rng)
            filterQuant = quant(s, zw)
            // Centred on the zero point (uint8 data far from it would saturate every output).
            filterBytes = (0..<filterCount).map { _ in UInt8(min(255, max(0, zw + Int.random(in: -127...127, using: &rng)))) }
        }
        let w = b.constant("w", c.type, filterShape, bytes: filterBytes, quantization: filterQuant)
        let biasScales = filterScales.map { $0 * inputScale }
        let biasQuant = c.type == .int8
            ? QuantizationParameters(scales: biasScales, zeroPoints: [Int64](repeating: 0, count: channels), quantizedDimension: 0)
            : quant(biasScales[0], 0)
        let bias = b.constant("b", .int32, [channels],
                              bytes: Bytes.of((0..<channels).map { _ in Int32(Int.random(in: -2000...2000, using: &rng)) }),
                              quantization: biasQuant)
        let taps = c.depthwise ? c.filter * c.filter : c.filter * c.filter * c.inputDepth
        let outputScale = inputScale * 0.01 * c.outputScaleFactor * Float(taps).squareRoot()
        let outputZeroPoint = c.type == .uint8 ? Int.random(in: 0...255, using: &rng) : Int.random(in: -128...127, using: &rng)
        let oh = windowedOutputSize(c.height, filter: c.filter, stride: c.stride, dilation: c.dilation, padding: c.padding)
        let ow = windowedOutputSize(c.width, filter: c.filter, stride: c.stride, dilation: c.dilation, padding: c.padding)
        let y = b.tensor("y", c.type, [c.batches, oh, ow, channels], quantization: quant(outputScale, outputZeroPoint))
        if c.depthwise {
            var o = DepthwiseConv2DOptions()
            o.padding = c.padding; o.strideHeight = c.stride; o.strideWidth = c.stride
            o.dilationHeight = c.dilation; o.dilationWidth = c.dilation; o.activation = c.activation
            b.op(.depthwiseConv2D, inputs: [x, w, bias], outputs: [y], options: .depthwiseConv2D(o), version: 3)
        } else {
            var o = Conv2DOptions()
            o.padding = c.padding; o.strideHeight = c.stride; o.strideWidth = c.stride
            o.dilationHeight = c.dilation; o.dilationWidth = c.dilation; o.activation = c.activation
            b.op(.conv2D, inputs: [x, w, bias], outputs: [y], options: .conv2D(o), version: 3)
        }
        let inputCount = c.batches * c.height * c.width * c.inputDepth
        // Centred on the zero point (data far from it would saturate every output).
        let (lo, hi) = c.type == .int8 ? (-128, 127) : (0, 255)
        let input = (0..<inputCount).map { _ in
            UInt8(truncatingIfNeeded: min(hi, max(lo, inputZeroPoint + Int.random(in: -127...127, using: &rng))))
        }
        return (b, input)
    }

    override func setUpWithError() throws {
        // Without AVX2 (or AVX-512 VNNI) the optimized path *is* the reference path; comparing them would
        // prove nothing.
        try XCTSkipUnless(QuantizedKernels.instructionSet != nil,
                          "the optimized quantized kernels need an x86-64 CPU with AVX2 or AVX-512 VNNI; this CPU runs the reference kernels")
    }

    /// Compares the optimized kernels with the reference at 1-3 threads, in both arithmetics (the reference's
    /// fixed point and XNNPACK's float scales); returns the reference output in the reference arithmetic.
    @discardableResult
    func check(_ c: Case, seed: UInt64, file: StaticString = #filePath, line: UInt = #line) throws -> [UInt8] {
        let (b, input) = model(c, seed: seed)
        let expected = try b.run([input], kernels: .reference, threads: 1, requantization: .reference)[0]
        let distinct = Set(expected).count
        for mode in Requantization.allCases {
            let reference = mode == .reference
                ? expected : try b.run([input], kernels: .reference, threads: 1, requantization: mode)[0]
            for threads in [1, 2, 3] {
                let actual = try b.run([input], kernels: .optimized, threads: threads, requantization: mode)[0]
                if actual != reference {
                    let first = zip(actual, reference).enumerated().first { $0.element.0 != $0.element.1 }
                    XCTFail("\(c) \(mode) arithmetic, threads \(threads): differs at \(first?.offset ?? -1) (\(first?.element.0 ?? 0) vs \(first?.element.1 ?? 0))",
                            file: file, line: line)
                    return expected
                }
            }
        }
        // A comparison of saturated outputs proves little. Unclamped cases must vary; cases built to clamp (fused
        // activations with extreme zero points, multipliers above 1) are counted, and `tearDown` asserts that most
        // of them still vary.
        guard expected.count >= 64 else { return expected }
        if c.activation == .none && c.outputScaleFactor >= 1 {
            XCTAssertGreaterThanOrEqual(distinct, 8, "\(c): outputs barely vary (\(distinct) values)", file: file, line: line)
        } else {
            clampedCases += 1
            if distinct >= 4 { varyingClampedCases += 1 }
        }
        return expected
    }

    private var clampedCases = 0, varyingClampedCases = 0

    override func tearDown() {
        if clampedCases > 0 {
            XCTAssertGreaterThanOrEqual(varyingClampedCases * 2, clampedCases,
                                        "only \(varyingClampedCases) of \(clampedCases) clamping cases have 4+ distinct outputs")
        }
        super.tearDown()
    }

    func testPointwiseTileEdges() throws {
        var seed: UInt64 = 1
        for type in [TensorType.int8, .uint8] {
            // Rows (pixels): 1, 5, 6, 7, 23, 24, 25, 32, 33, 49, 64, 97 (VNNI blocks of 24, AMX blocks of 32);
            // columns around 16 and 64; reductions around 4 and 64.
            for (h, w) in [(1, 1), (1, 5), (2, 3), (1, 7), (1, 23), (4, 6), (5, 5), (4, 8), (1, 33), (7, 7), (8, 8),
                           (1, 97)] {
                for (cin, cout) in [(1, 1), (3, 8), (8, 17), (17, 31), (32, 32), (33, 33), (64, 64), (96, 24),
                                    (144, 48), (31, 65), (320, 1280), (63, 96), (65, 80)] {
                    seed += 1
                    try check(Case(type: type, height: h, width: w, inputDepth: cin, outputDepth: cout,
                                   activation: seed % 3 == 0 ? .relu6 : .none), seed: seed)
                }
            }
        }
    }

    func testGeneralConvolutions() throws {
        var seed: UInt64 = 1000
        for type in [TensorType.int8, .uint8] {
            for (h, w, cin, cout, f, s, d, pad) in [
                (15, 15, 3, 32, 3, 2, 1, Padding.same), (16, 16, 3, 32, 3, 2, 1, .same), (9, 11, 5, 17, 3, 1, 1, .valid),
                (8, 8, 4, 16, 5, 1, 2, .same), (7, 6, 2, 64, 2, 2, 1, .valid), (5, 5, 16, 8, 1, 2, 1, .same),
                (10, 9, 8, 33, 3, 3, 1, .same),
            ] {
                seed += 1
                try check(Case(type: type, height: h, width: w, inputDepth: cin, outputDepth: cout, filter: f, stride: s,
                               dilation: d, padding: pad, activation: seed % 2 == 0 ? .relu6 : .relu), seed: seed)
            }
            seed += 1
            try check(Case(type: type, height: 5, width: 4, inputDepth: 9, outputDepth: 20, filter: 3, batches: 2), seed: seed)
        }
    }

    func testThreeChannelWindows() throws {
        // A 3x3 window over 3 channels (an image network's first layer) is packed from three 16-byte loads when it
        // lies inside the input, and by the general code at the edges; row counts span one block (25) and several.
        var seed: UInt64 = 1500
        for type in [TensorType.int8, .uint8] {
            for (h, w, s, pad, cout) in [(30, 31, 2, Padding.same, 32), (29, 29, 2, .valid, 24), (17, 20, 1, .same, 16),
                                         (12, 12, 2, .valid, 32), (3, 3, 1, .valid, 8), (2, 40, 1, .same, 17)] {
                seed += 1
                let output = try check(Case(type: type, height: h, width: w, inputDepth: 3, outputDepth: cout, filter: 3,
                                            stride: s, padding: pad, activation: seed % 2 == 0 ? .relu6 : .none),
                                       seed: seed)
                // Matching bytes prove little if every output is the same byte.
                XCTAssertGreaterThan(Set(output).count, 1, "\(type) \(h)x\(w) stride \(s): a constant output")
            }
            seed += 1
            let output = try check(Case(type: type, height: 9, width: 8, inputDepth: 3, outputDepth: 32, filter: 3,
                                        stride: 2, batches: 2), seed: seed)
            XCTAssertGreaterThan(Set(output).count, 1, "\(type) two batches: a constant output")
        }
    }

    func testSmallWindowsOtherThanThreeChannels() throws {
        // Windows whose filter rows are at most 16 bytes and at most 32 bytes in all (VNNI CPUs with VBMI gather
        // them into registers): 2x2 over 4 channels, 3x3 over 1 and 2 channels, with the edges of both paddings
        // and strides 1-3, so every edge case of the masked loads meets the reference; and a dilated 3x3 over 3
        // channels, which the gather declines (its filter rows are not contiguous).
        var seed: UInt64 = 1700
        for type in [TensorType.int8, .uint8] {
            for (h, w, cin, cout, f, s, d, pad) in [
                (9, 10, 4, 20, 2, 1, 1, Padding.same), (9, 10, 4, 20, 2, 2, 1, .valid), (11, 7, 1, 16, 3, 1, 1, .same),
                (11, 13, 2, 33, 3, 3, 1, .same), (12, 9, 2, 8, 3, 2, 1, .valid), (10, 10, 3, 16, 3, 1, 2, .same),
            ] {
                seed += 1
                let output = try check(Case(type: type, height: h, width: w, inputDepth: cin, outputDepth: cout,
                                            filter: f, stride: s, dilation: d, padding: pad,
                                            activation: seed % 2 == 0 ? .relu6 : .none), seed: seed)
                XCTAssertGreaterThan(Set(output).count, 1, "\(type) \(f)x\(f)x\(cin) stride \(s): a constant output")
            }
        }
    }

    func testRequantizationShifts() throws {
        // Output scales below the input x filter scale give multipliers above 1 (left shifts); large ones give
        // long right shifts.
        var seed: UInt64 = 2000
        for type in [TensorType.int8, .uint8] {
            for factor: Float in [0.01, 0.3, 5, 300] {
                seed += 1
                try check(Case(type: type, height: 3, width: 5, inputDepth: 16, outputDepth: 40,
                               outputScaleFactor: factor), seed: seed)
                try check(Case(type: type, height: 6, width: 5, inputDepth: 24, outputDepth: 24, filter: 3,
                               depthwise: true, outputScaleFactor: factor), seed: seed)
                // 48 channels in rows of 9: the 3x3 run's 32-channel (AVX-512) and 16-channel blocks in every
                // requantization mode.
                try check(Case(type: type, height: 4, width: 9, inputDepth: 48, outputDepth: 48, filter: 3,
                               depthwise: true, outputScaleFactor: factor), seed: seed)
            }
        }
    }

    func testDepthwise() throws {
        var seed: UInt64 = 3000
        for type in [TensorType.int8, .uint8] {
            for (h, w, c, f, s, d, pad) in [
                (1, 1, 1, 3, 1, 1, Padding.same), (5, 7, 3, 3, 1, 1, .same), (8, 8, 8, 3, 2, 1, .same),
                (9, 9, 17, 3, 2, 1, .same), (6, 5, 31, 3, 1, 1, .valid), (4, 4, 32, 3, 1, 1, .same),
                (5, 3, 33, 3, 2, 1, .valid), (7, 7, 64, 3, 1, 1, .same), (6, 6, 96, 3, 2, 1, .same),
                (4, 4, 144, 3, 1, 1, .same), (3, 3, 1280, 3, 1, 1, .same), (8, 8, 20, 5, 1, 2, .same),
                (7, 9, 24, 2, 2, 1, .valid), (10, 10, 16, 3, 3, 1, .same),
                // Long rows for the column-pair path (3x3, stride 1 or 2, whole blocks of 16 channels).
                (5, 19, 48, 3, 1, 1, .valid), (9, 17, 32, 3, 2, 1, .valid), (6, 20, 16, 3, 2, 1, .same),
                // Rows that are mostly border (columns left or right of the input read the padding row).
                (1, 1, 16, 3, 1, 1, .same), (3, 2, 32, 3, 1, 1, .same), (5, 6, 48, 3, 2, 1, .same),
                (2, 1, 64, 3, 2, 1, .same),
            ] {
                seed += 1
                try check(Case(type: type, height: h, width: w, inputDepth: c, outputDepth: c, filter: f, stride: s,
                               dilation: d, padding: pad, activation: seed % 2 == 0 ? .relu6 : .none, depthwise: true),
                          seed: seed)
            }
        }
    }

    /// The whole golden models: optimized and reference kernels give the same bytes.
    func testGoldenModelsMatchReference() throws {
        let root = try TestData.require()
        for name in ["tf2_mobilenet_v2_1.0_224_ptq", "mobilenet_v2_1.0_224_quant"] {
            let path = try TestData.model("\(name).tflite")
            let input = try Data(contentsOf: root.appendingPathComponent("golden/\(name)/cat/input_0.bin"))
            for mode in Requantization.allCases {
                var outputs: [Data] = []
                for (kernels, threads) in [(KernelSet.reference, 1), (.optimized, 1), (.optimized, 2), (.optimized, 3)] {
                    let interpreter = try Interpreter(modelPath: path, options: .init(
                        threadCount: threads, kernels: kernels, requantization: mode))
                    try interpreter.allocateTensors()
                    try interpreter.copy(input, toInputAt: 0)
                    try interpreter.invoke()
                    outputs.append(try interpreter.output(at: 0).data)
                }
                for i in 1..<outputs.count {
                    XCTAssertEqual(outputs[i], outputs[0], "\(name), \(mode) arithmetic: optimized output \(i) differs from the reference")
                }
            }
        }
    }
}
