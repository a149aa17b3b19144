import CMagpieKernels
import Foundation
import XCTest
@testable import MagpieEngine
import MagpieModel
import MagpieTestSupport

/// The opt-in bfloat16 precision (`FloatPrecision.bfloat16`): pointwise convolutions of at least 32 input channels
/// and 16 output pixels, and every expansion fused with its depthwise convolution, multiply bfloat16 operands on
/// AMX-BF16 tiles or with AVX512_BF16's VDPBF16PS (`mfa_gemm_rows`, `mfa_gemm_planar`) and sum in float32.
final class BFloat16Tests: XCTestCase {
    /// bfloat16 of x, rounded to nearest even, as a float (finite, normal x).
    static func bf16(_ x: Float) -> Float {
        let u = x.bitPattern
        return Float(bitPattern: (u &+ 0x7fff &+ ((u >> 16) & 1)) & 0xffff_0000)
    }

    struct Case {
        var n = 1
        var h: Int, w: Int, cin: Int, cout: Int
        var activation = FusedActivation.none
        var bias = true
    }

    func model(_ c: Case, seed: UInt64) -> (model: [UInt8], input: [Float], weights: [Float], bias: [Float]) {
        var rng = SeededGenerator(seed: seed)
        func random(_ count: Int) -> [Float] { (0..<count).map { _ in Float.random(in: -1...1, using: &rng) } }
        var b = OpModelBuilder()
        let x = b.input("x", .float32, [c.n, c.h, c.w, c.cin])
        let weights = random(c.cout * c.cin), bias = c.bias ? random(c.cout) : [Float](repeating: 0, count: c.cout)
        var inputs = [x, b.constant("w", .float32, [c.cout, 1, 1, c.cin], bytes: Bytes.of(weights))]
        if c.bias { inputs.append(b.constant("b", .float32, [c.cout], bytes: Bytes.of(bias))) }
        let y = b.tensor("y", .float32, [c.n, c.h, c.w, c.cout])
        var o = Conv2DOptions()
        o.padding = .same; o.activation = c.activation
        b.op(.conv2D, inputs: inputs, outputs: [y], options: .conv2D(o), version: 2)
        return (b.build(), random(c.n * c.h * c.w * c.cin), weights, bias)
    }

    func run(_ model: [UInt8], _ input: [Float], precision: FloatPrecision, threads: Int = 1,
             fuses: Bool = true) throws -> (output: [Float], fused: [Int: Int], skipping: Set<Int>) {
        try run(model, Bytes.of(input), precision: precision, threads: threads, fuses: fuses)
    }

    func run(_ model: [UInt8], _ input: [UInt8], precision: FloatPrecision, threads: Int = 1, fuses: Bool = true,
             skipsZeros: Bool = true) throws -> (output: [Float], fused: [Int: Int], skipping: Set<Int>) {
        let interpreter = try Interpreter(model: try Model(data: model),
                                          options: .init(threadCount: threads, kernels: .optimized,
                                                         fusesOperators: fuses, skipsZeros: skipsZeros,
                                                         floatPrecision: precision))
        try interpreter.allocateTensors()
        try interpreter.copy(Data(input), toInputAt: 0)
        try interpreter.invoke()
        return (Bytes.floats(Array(try interpreter.output(at: interpreter.outputTensorCount - 1).data)),
                interpreter.fusedOperators, interpreter.zeroSkippingOperators)
    }

    func requireBFloat16() throws {
        guard FloatKernels.bfloat16Available else {
            throw XCTSkip("this CPU has neither AMX-BF16 nor AVX512_BF16 (or MAGPIE_MAX_ISA rules them out): the "
                          + "bfloat16 precision runs in float32 here, which testBFloat16FallsBackToFloat32 checks")
        }
    }

    /// Each output against the same sum in double precision over the bfloat16-rounded operands: the kernel's only
    /// difference from that is float32 accumulation (within 1e-5 of the sum of the terms' magnitudes). The tile
    /// edges: 16-33 and 69 rows (32-row blocks, 16-row tiles), 1-48 output channels (panel pairs, a lone last panel,
    /// partial panels), reductions of 64-130 (32-wide steps, a padded last step), 1-3 threads.
    func testPointwiseTileEdges() throws {
        try requireBFloat16()
        let cases = [Case(h: 4, w: 4, cin: 64, cout: 16), Case(h: 1, w: 17, cin: 65, cout: 17, activation: .relu6),
                     Case(h: 31, w: 1, cin: 96, cout: 1, bias: false), Case(h: 4, w: 8, cin: 130, cout: 33),
                     Case(n: 3, h: 1, w: 11, cin: 64, cout: 48, activation: .relu),
                     Case(h: 23, w: 3, cin: 100, cout: 32, activation: .relu6)]
        for (i, c) in cases.enumerated() {
            let (model, input, weights, bias) = model(c, seed: 1300 + UInt64(i))
            let rows = c.n * c.h * c.w
            var expected = [Float](), bound = [Float]()
            for r in 0..<rows {
                for j in 0..<c.cout {
                    var sum = Double(bias[j]), magnitude = abs(Double(bias[j]))
                    for i in 0..<c.cin {
                        let term = Double(Self.bf16(input[r * c.cin + i])) * Double(Self.bf16(weights[j * c.cin + i]))
                        sum += term; magnitude += abs(term)
                    }
                    let (lo, hi) = QuantizedArithmetic.activationRange(try c.activation.kind())
                    expected.append(min(max(Float(sum), lo), hi))
                    bound.append(Float(magnitude) * 1e-5 + 1e-7)
                }
            }
            let float32 = try run(model, input, precision: .float32).output
            for threads in [1, 2, 3] {
                let actual = try run(model, input, precision: .bfloat16, threads: threads).output
                XCTAssertEqual(actual.count, expected.count)
                for (o, (a, e)) in zip(actual, expected).enumerated() where abs(a - e) > bound[o] {
                    XCTFail("\(c) threads \(threads): output \(o) is \(a), bfloat16 products give \(e)")
                    break
                }
                XCTAssertFalse(actual == float32, "\(c): the bfloat16 kernel ran")
            }
        }
    }

    /// One pixel through a pointwise convolution (a classifier) in bfloat16 on AVX512_BF16, against the sums of the
    /// rounded operands in double; with AMX it stays float32.
    func testSinglePixel() throws {
        try requireBFloat16()
        for (i, c) in [Case(h: 1, w: 1, cin: 130, cout: 33, activation: .relu6), Case(h: 1, w: 1, cin: 64, cout: 16)]
            .enumerated() {
            let (model, input, weights, bias) = model(c, seed: 1800 + UInt64(i))
            let float32 = try run(model, input, precision: .float32).output
            let actual = try run(model, input, precision: .bfloat16, threads: 2).output
            guard mfa_cpu_supported() == 0 else {
                XCTAssertEqual(actual, float32, "\(c): float32 with AMX")
                continue
            }
            let (lo, hi) = QuantizedArithmetic.activationRange(try c.activation.kind())
            for j in 0..<c.cout {
                var sum = Double(bias[j]), magnitude = abs(Double(bias[j]))
                for i in 0..<c.cin {
                    let term = Double(Self.bf16(input[i])) * Double(Self.bf16(weights[j * c.cin + i]))
                    sum += term; magnitude += abs(term)
                }
                XCTAssertEqual(actual[j], min(max(Float(sum), lo), hi), accuracy: Float(magnitude) * 1e-5 + 1e-7,
                               "\(c) output \(j)")
            }
            XCTAssertFalse(actual == float32, "\(c): the bfloat16 kernel ran")
        }
    }

    /// A residual ADD fuses into the bfloat16 convolution's store as into the float32 one's, with the same bits as
    /// the ADD kernel after it.
    func testResidualAddFusion() throws {
        try requireBFloat16()
        var rng = SeededGenerator(seed: 1400)
        func random(_ count: Int) -> [Float] { (0..<count).map { _ in Float.random(in: -1...1, using: &rng) } }
        var b = OpModelBuilder()
        let shape = [1, 7, 7, 80]
        let x = b.input("x", .float32, shape)
        let w = b.constant("w", .float32, [80, 1, 1, 80], bytes: Bytes.of(random(80 * 80)))
        let bias = b.constant("b", .float32, [80], bytes: Bytes.of(random(80)))
        let y = b.tensor("y", .float32, shape, isOutput: false)
        var o = Conv2DOptions()
        o.padding = .same
        b.op(.conv2D, inputs: [x, w, bias], outputs: [y], options: .conv2D(o), version: 2)
        let sum = b.tensor("sum", .float32, shape, isOutput: true)
        b.op(.add, inputs: [x, y], outputs: [sum], options: .arithmetic(activation: .relu6))
        let (model, input) = (b.build(), random(7 * 7 * 80))
        for threads in [1, 2] {
            let fused = try run(model, input, precision: .bfloat16, threads: threads)
            let unfused = try run(model, input, precision: .bfloat16, threads: threads, fuses: false)
            XCTAssertEqual(fused.fused, [1: 0])
            XCTAssertEqual(try run(model, input, precision: .float32, threads: threads).fused, [1: 0])
            XCTAssertTrue(fused.output == unfused.output, "threads \(threads)")
            XCTAssertFalse(fused.output == (try run(model, input, precision: .float32, threads: threads).output))
        }
    }

    /// The bfloat16 precision multiplies a fused expansion in bfloat16 too (`mfa_gemm_planar`, into the fused
    /// kernel's ring). From 32 input channels on, the unfused expansion runs the same tiles (`mfa_gemm_rows`), so
    /// fusing changes no bit; below that the unfused expansion is float32, and the fused output stays within
    /// bfloat16's error of it. Row counts that leave partial 16-row tiles in a band, stride 2, two images, 1-3 threads.
    func testFusedExpansion() throws {
        try requireBFloat16()
        let tiled = [ExpansionBlock(n: 1, h: 32, w: 40, cin: 40, expanded: 64, stride: 1, activation: .relu6),
                     ExpansionBlock(n: 2, h: 33, w: 31, cin: 33, expanded: 80, stride: 2, activation: .relu6)]
        let narrow = [ExpansionBlock(n: 1, h: 64, w: 64, cin: 8, expanded: 32, stride: 1, activation: .relu6),
                      ExpansionBlock(n: 1, h: 45, w: 27, cin: 24, expanded: 96, stride: 2, activation: .relu)]
        for (i, c) in (tiled + narrow).enumerated() {
            let (model, input) = c.build(seed: 1600 + UInt64(i))
            let float32 = try run(model, input, precision: .float32, threads: 2)
            for threads in [1, 2, 3] {
                let fused = try run(model, input, precision: .bfloat16, threads: threads)
                XCTAssertEqual(fused.fused, [2: 1], "\(c)")
                XCTAssertFalse(fused.output == float32.output, "\(c): the bfloat16 tiles ran")
                if c.cin >= FloatKernels.bfloat16MinimumDepth {
                    let unfused = try run(model, input, precision: .bfloat16, threads: threads, fuses: false)
                    XCTAssertTrue(fused.output == unfused.output, "\(c) threads \(threads)")
                } else {
                    let scale = float32.output.map { abs($0) }.max() ?? 1
                    let error = zip(fused.output, float32.output).map { abs($0 - $1) }.max() ?? 0
                    XCTAssertLessThanOrEqual(error, scale * 0.02, "\(c) threads \(threads)")
                }
            }
        }
    }

    /// Zero skipping in the bfloat16 GEMM's AVX512_BF16 form (`mfa_gemm.skips`): a projection of 64 channels or more
    /// that reads the depthwise layer's ReLU6 output multiplies, per group of 8 rows, only the pairs of input
    /// channels at which one of the rows is nonzero, and its output equals the dense one's. Whole dead channels,
    /// random zeros, reductions that are not a multiple of 32 (a partial last vector in the lists), a last group
    /// of fewer than 8 rows, two images, 1-3 threads. On AMX the tiles stay dense.
    func testZeroSkipping() throws {
        try requireBFloat16()
        let lists = mfa_cpu_supported() == 0
        var cases = [ExpansionBlock(n: 1, h: 14, w: 14, cin: 16, expanded: 70, stride: 2, activation: .relu6,
                                    projected: 80, deadEvery: 3),
                     ExpansionBlock(n: 1, h: 13, w: 2, cin: 8, expanded: 37, stride: 1, activation: .relu6,
                                    projected: 64),
                     ExpansionBlock(n: 2, h: 9, w: 10, cin: 40, expanded: 96, stride: 1, activation: .relu6,
                                    projected: 72, deadEvery: 4)]
        // A single pixel (a classifier's shape; in bfloat16 only on AVX512_BF16): its group's other 7 rows are zeros.
        if lists {
            cases.append(ExpansionBlock(n: 1, h: 1, w: 1, cin: 8, expanded: 150, stride: 1, activation: .relu6,
                                        projected: 100, deadEvery: 2))
        }
        for (i, c) in cases.enumerated() {
            let (model, input) = c.build(seed: 1700 + UInt64(i))
            for threads in [1, 2, 3] {
                let dense = try run(model, input, precision: .bfloat16, threads: threads, skipsZeros: false)
                let skipping = try run(model, input, precision: .bfloat16, threads: threads)
                XCTAssertEqual(dense.skipping, [], "\(c)")
                XCTAssertEqual(skipping.skipping, lists ? [3] : [], "\(c): the projection (3) skips zeros")
                XCTAssertEqual(skipping.output, dense.output, "\(c) threads \(threads)")
                XCTAssertFalse(dense.output == (try run(model, input, precision: .float32, threads: threads).output),
                               "\(c): the bfloat16 kernel ran")
            }
        }
    }

    /// Where bfloat16 does not apply the precision changes nothing: unfused convolutions of fewer than 32 input
    /// channels or 16 pixels everywhere, and every convolution on CPUs without AMX-BF16 or AVX512_BF16.
    func testBFloat16FallsBackToFloat32() throws {
        var cases = [Case(h: 8, w: 8, cin: 24, cout: 40), Case(h: 3, w: 5, cin: 96, cout: 24)]
        if !FloatKernels.bfloat16Available { cases.append(Case(h: 6, w: 6, cin: 64, cout: 32)) }
        for (i, c) in cases.enumerated() {
            let (model, input, _, _) = model(c, seed: 1500 + UInt64(i))
            for threads in [1, 2] {
                let bf16 = try run(model, input, precision: .bfloat16, threads: threads).output
                XCTAssertTrue(bf16 == (try run(model, input, precision: .float32, threads: threads).output), "\(c)")
            }
        }
    }

    /// MobileNetV2 (float) on the shared golden inputs in bfloat16: the same top-1 as LiteRT's reference, and the
    /// scores within 0.02 of it (a bound for this model: float32 is within 1e-6).
    func testGoldenMobileNetV2() throws {
        try requireBFloat16()
        let root = try TestData.require()
        let name = "mobilenet_v2_1.0_224_float"
        let dir = root.appendingPathComponent("golden/\(name)")
        let cases = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        let interpreter = try Interpreter(modelPath: root.appendingPathComponent("models/\(name).tflite").path,
                                          options: .init(threadCount: 2, floatPrecision: .bfloat16))
        try interpreter.allocateTensors()
        var checked = 0
        for c in cases {
            let caseDir = dir.appendingPathComponent(c)
            guard let input = FileManager.default.contents(atPath: caseDir.appendingPathComponent("input_0.bin").path)
            else { continue }
            let reference = Bytes.floats(Array(try Data(contentsOf: caseDir.appendingPathComponent("output_0.ref.bin"))))
            try interpreter.copy(input, toInputAt: 0)
            try interpreter.invoke()
            let actual = Bytes.floats(Array(try interpreter.output(at: 0).data))
            XCTAssertEqual(actual.count, reference.count)
            let error = zip(actual, reference).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThanOrEqual(error, 0.02, "\(name)/\(c)")
            XCTAssertEqual(actual.indices.max { actual[$0] < actual[$1] },
                           reference.indices.max { reference[$0] < reference[$1] }, "\(name)/\(c) top-1")
            checked += 1
        }
        XCTAssertGreaterThan(checked, 0, "golden cases in \(dir.path)")
    }
}
