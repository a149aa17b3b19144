import Foundation
import XCTest
@testable import MagpieEngine
import MagpieModel
import MagpieTestSupport

/// The optimized quantized elementwise kernels against the reference kernels, byte for byte (both arithmetics of
/// `Requantization`): AVX2 ADD / SUB at the
/// vector edges (sizes around 8, 32 and 64), over the threading threshold (1-3 threads), with input scales close and far
/// apart in both orders and fused activations; and the 8-bit lookup tables (QUANTIZE's requantization, quantized
/// RELU / RELU6 / RELU_N1_TO_1 / HARD_SWISH) on every one of the 256 input values.
final class QuantizedElementwiseKernelTests: XCTestCase {
    static let sizes = [1, 7, 8, 9, 31, 32, 33, 64, 95, 128, 1000]
    /// Above `QuantizedElementwise.parallelThreshold`, and not a multiple of 32.
    static let largeSize = 100_003
    /// Above `QuantizedElementwise.addParallelThreshold` (ADD / SUB split) but below `parallelThreshold`: a 28x28x32
    /// residual ADD, plus 3.
    static let mediumSize = 25_091
    /// Input 2 scale over input 1 scale: close, and far apart in both orders (down to a multiplier that flushes
    /// to zero).
    static let scaleRatios: [Float] = [1, 0.37, 2.9, 1e-3, 1e3, 1e-10, 1e10]
    static let activations: [FusedActivation] = [.none, .relu, .relu6]

    /// Runs `b` with the reference kernels (one thread) and with the optimized kernels at each thread count, in
    /// both arithmetics (`Requantization`: ADD has XNNPACK's form besides the reference's), fails on the first
    /// differing byte, and returns the reference output in the reference arithmetic.
    @discardableResult
    func assertOptimizedMatchesReference(_ b: OpModelBuilder, _ inputs: [[UInt8]], _ label: String,
                                         threads: [Int] = [1], file: StaticString = #filePath,
                                         line: UInt = #line) throws -> [UInt8] {
        var result: [UInt8] = []
        for mode in Requantization.allCases {
            let expected = try b.run(inputs, kernels: .reference, threads: 1, requantization: mode)[0]
            if mode == .reference { result = expected }
            for n in threads {
                let actual = try b.run(inputs, kernels: .optimized, threads: n, requantization: mode)[0]
                guard actual != expected else { continue }
                let first = zip(actual, expected).enumerated().first { $0.element.0 != $0.element.1 }
                XCTFail("\(label), \(mode) arithmetic, \(n) threads: differs at \(first?.offset ?? -1) (optimized \(first?.element.0 ?? 0), reference \(first?.element.1 ?? 0))",
                        file: file, line: line)
                break
            }
        }
        return result
    }

    /// Fails when `output` has fewer than `minimum` distinct values (a test of saturated outputs proves little).
    func assertVaries(_ output: [UInt8], _ label: String, minimum: Int = 8, file: StaticString = #filePath,
                      line: UInt = #line) {
        let distinct = Set(output).count
        XCTAssertGreaterThanOrEqual(distinct, minimum, "\(label): outputs barely vary (\(distinct) values)",
                                    file: file, line: line)
    }

    static func zeroPoint(_ type: TensorType, _ range: ClosedRange<Int> = 0...255,
                          using rng: inout SeededGenerator) -> Int {
        Int.random(in: range, using: &rng) - (type == .int8 ? 128 : 0)
    }

    // MARK: ADD / SUB

    struct ArithmeticCase: CustomStringConvertible {
        var op: BuiltinOperator, type: TensorType, count: Int, ratio: Float, activation: FusedActivation
        var shape2: [Int]? = nil
        var description: String {
            "\(op == .add ? "ADD" : "SUB") \(type) n=\(count) ratio=\(ratio) \(activation)\(shape2.map { " input 2 \($0)" } ?? "")"
        }
    }

    /// A one-operator ADD / SUB model with random zero points (the output's kept away from the ends, so RELU leaves
    /// something to see), the larger input scale in 0.01...0.05 and an output scale near the sum of the input
    /// scales; and its random inputs.
    func arithmeticModel(_ c: ArithmeticCase, seed: UInt64) -> (OpModelBuilder, [[UInt8]]) {
        var rng = SeededGenerator(seed: seed)
        let larger = Float.random(in: 0.01...0.05, using: &rng)
        let (s1, s2) = c.ratio >= 1 ? (larger / c.ratio, larger) : (larger, larger * c.ratio)
        let so = (s1 + s2) * Float.random(in: 0.5...1.5, using: &rng)
        let z1 = Self.zeroPoint(c.type, using: &rng), z2 = Self.zeroPoint(c.type, using: &rng)
        let zo = Self.zeroPoint(c.type, 64...191, using: &rng)
        let shape = [c.count]
        let shape2 = c.shape2 ?? shape
        var b = OpModelBuilder()
        let x = b.input("x", c.type, shape, quantization: quant(s1, z1))
        let y = b.input("y", c.type, shape2, quantization: quant(s2, z2))
        let out = b.tensor("out", c.type, shape, quantization: quant(so, zo))
        b.op(c.op, inputs: [x, y], outputs: [out], options: .arithmetic(activation: c.activation),
             version: c.type == .int8 ? 2 : 1)
        // Centred on the zero points (data on one side of a zero point near the type's end would leave RELU with
        // next to nothing to pass).
        let (lo, hi) = c.type == .int8 ? (-128, 127) : (0, 255)
        func data(_ count: Int, around zeroPoint: Int) -> [UInt8] {
            (0..<count).map { _ in
                UInt8(truncatingIfNeeded: min(hi, max(lo, zeroPoint + Int.random(in: -127...127, using: &rng))))
            }
        }
        return (b, [data(c.count, around: z1), data(shape2.reduce(1, *), around: z2)])
    }

    func checkArithmetic(_ c: ArithmeticCase, seed: UInt64, threads: [Int] = [1], file: StaticString = #filePath,
                         line: UInt = #line) throws {
        let (b, inputs) = arithmeticModel(c, seed: seed)
        let expected = try assertOptimizedMatchesReference(b, inputs, "\(c)", threads: threads, file: file, line: line)
        // With RELU, an input zero point near its type's end leaves next to nothing positive: only require that the
        // output is not constant there.
        if c.count >= 1000 {
            assertVaries(expected, "\(c)", minimum: c.activation == .none ? 8 : 2, file: file, line: line)
        }
    }

    func testAddSubMatchReferenceAtVectorEdges() throws {
        try XCTSkipUnless(QuantizedElementwise.avx2Available, "the quantized ADD/SUB kernels need a CPU with AVX2 and FMA; without them the optimized path is the reference path")
        var seed: UInt64 = 100
        for type in [TensorType.uint8, .int8] {
            for op in [BuiltinOperator.add, .sub] {
                for (r, ratio) in Self.scaleRatios.enumerated() {
                    for (s, size) in Self.sizes.enumerated() {
                        seed += 1
                        let activation = Self.activations[(r + s) % Self.activations.count]
                        try checkArithmetic(ArithmeticCase(op: op, type: type, count: size, ratio: ratio,
                                                           activation: activation), seed: seed)
                    }
                }
            }
        }
    }

    /// Every (x, y) byte pair at once, so the 32-bit form of the inputs' high multiply (elementwise_avx2.c) is
    /// checked on all 65536 combinations per parameter set, not only on sampled data.
    func testAddSubMatchReferenceOnEveryBytePair() throws {
        try XCTSkipUnless(QuantizedElementwise.avx2Available, "the quantized ADD/SUB kernels need a CPU with AVX2 and FMA; without them the optimized path is the reference path")
        let first = (0..<65536).map { UInt8(truncatingIfNeeded: $0 >> 8) }
        let second = (0..<65536).map { UInt8(truncatingIfNeeded: $0) }
        var seed: UInt64 = 700
        for type in [TensorType.uint8, .int8] {
            for op in [BuiltinOperator.add, .sub] {
                for ratio: Float in [1, 0.37, 2.9, 1e-3] {
                    seed += 1
                    let c = ArithmeticCase(op: op, type: type, count: 65536, ratio: ratio,
                                           activation: seed % 3 == 0 ? .relu6 : .none)
                    let (b, _) = arithmeticModel(c, seed: seed)
                    let expected = try assertOptimizedMatchesReference(b, [first, second], "\(c) every byte pair")
                    assertVaries(expected, "\(c) every byte pair")
                }
            }
        }
    }

    func testAddSubMatchReferenceAcrossThreads() throws {
        try XCTSkipUnless(QuantizedElementwise.avx2Available, "the quantized ADD/SUB kernels need a CPU with AVX2 and FMA; without them the optimized path is the reference path")
        var seed: UInt64 = 500
        for type in [TensorType.uint8, .int8] {
            for op in [BuiltinOperator.add, .sub] {
                for activation in Self.activations {
                    seed += 1
                    let ratio = Self.scaleRatios[Int(seed) % Self.scaleRatios.count]
                    for count in [Self.largeSize, Self.mediumSize] {
                        try checkArithmetic(ArithmeticCase(op: op, type: type, count: count, ratio: ratio,
                                                           activation: activation), seed: seed, threads: [1, 2, 3])
                    }
                }
            }
        }
    }

    /// Broadcasting keeps the reference kernel; the result must still match it.
    func testBroadcastAddFallsBack() throws {
        for type in [TensorType.uint8, .int8] {
            try checkArithmetic(ArithmeticCase(op: .add, type: type, count: 1000, ratio: 0.5, activation: .none,
                                               shape2: [1]), seed: 900)
        }
    }

    /// The fast path takes MobileNetV2-like parameters (so the comparisons above compare two different kernels),
    /// and declines broadcasting.
    func testAddSubFactoryAcceptsSameShapes() throws {
        try XCTSkipUnless(QuantizedElementwise.avx2Available, "the quantized ADD/SUB kernels need a CPU with AVX2 and FMA")
        let pool = ThreadPool(threadCount: 1)
        defer { pool.shutdown() }
        var p = Elementwise.QuantizedAddParameters(
            input1Offset: -128, input2Offset: -3, outputOffset: 7,
            input1Multiplier: 1 << 30, input1Shift: 0, input2Multiplier: 1_500_000_000, input2Shift: -2,
            outputMultiplier: 1_600_000_000, outputShift: -18, leftShift: 20, activationMin: 0, activationMax: 255)
        let same = Elementwise.BinaryWiring(shape: try Elementwise.BroadcastShape([1, 4, 4, 8], [1, 4, 4, 8]),
                                            input1: 0, input2: 1, output: 2, input2Count: 128)
        let broadcast = Elementwise.BinaryWiring(shape: try Elementwise.BroadcastShape([1, 4, 4, 8], [8]),
                                                 input1: 0, input2: 1, output: 2, input2Count: 8)
        XCTAssertNotNil(QuantizedElementwise.addSub(.add, UInt8.self, p, same, pool: pool))
        XCTAssertNil(QuantizedElementwise.addSub(.add, UInt8.self, p, broadcast, pool: pool))
        XCTAssertNil(QuantizedElementwise.addSub(.mul, UInt8.self, p, same, pool: pool))
        p.activationMin = -128
        p.activationMax = 127
        XCTAssertNotNil(QuantizedElementwise.addSub(.sub, Int8.self, p, same, pool: pool))
    }

    // MARK: Lookup tables

    /// Every input byte, in order.
    static let allBytes = (0...255).map { UInt8($0) }

    /// A one-operator unary model from `inType` to `outType`.
    func unaryModel(_ op: BuiltinOperator, _ inType: TensorType, _ outType: TensorType, count: Int,
                    input: QuantizationParameters, output: QuantizationParameters, version: Int = 1) -> OpModelBuilder {
        var b = OpModelBuilder()
        let x = b.input("x", inType, [count], quantization: input)
        let y = b.tensor("y", outType, [count], quantization: output)
        b.op(op, inputs: [x], outputs: [y], version: version)
        return b
    }

    /// Large random input for the threaded runs.
    func largeInput(seed: UInt64) -> [UInt8] {
        var rng = SeededGenerator(seed: seed)
        return (0..<Self.largeSize).map { _ in UInt8.random(in: 0...255, using: &rng) }
    }

    func testQuantizeTablesMatchReferenceOnAllInputs() throws {
        var rng = SeededGenerator(seed: 1234)
        let pairs: [(TensorType, TensorType)] = [(.uint8, .int8), (.int8, .uint8), (.uint8, .uint8), (.int8, .int8)]
        for (inType, outType) in pairs {
            let shift = (inType == .uint8 ? -128 : 0) + (outType == .uint8 ? 128 : 0)
            let zIn = Self.zeroPoint(inType, using: &rng)
            let zOut = Self.zeroPoint(outType, using: &rng)
            let scale = Float.random(in: 0.005...0.1, using: &rng)
            // (label, input scale, input zero point, output scale, output zero point, expect varied output)
            var configs: [(String, Float, Int, Float, Int, Bool)] = [
                ("same scale, zero points apart by the type change", scale, zIn, scale, zIn + shift, true),
                ("ratio 0.6", scale, zIn, scale / 0.6, zOut, true),
                ("ratio 2.7", scale, zIn, scale / 2.7, zOut, true),
                ("ratio 40 (mostly saturated)", scale, zIn, scale / 40, zOut, false),
                ("ratio 0.01 (few outputs)", scale, zIn, scale / 0.01, zOut, false),
                ("ratio 1, other zero points", scale, zIn, scale, zOut, true),
            ]
            if inType == outType { configs.append(("identity", scale, zIn, scale, zIn, true)) }
            for (k, (what, si, zi, so, zo, varies)) in configs.enumerated() {
                let label = "QUANTIZE \(inType)->\(outType) \(what) (\(si)/\(zi) -> \(so)/\(zo))"
                let input = quant(si, zi), output = quant(so, zo)
                let b = unaryModel(.quantize, inType, outType, count: 256, input: input, output: output, version: 2)
                let expected = try assertOptimizedMatchesReference(b, [Self.allBytes], label)
                if varies { assertVaries(expected, label) }
                if k < 2 {
                    let large = unaryModel(.quantize, inType, outType, count: Self.largeSize, input: input,
                                           output: output, version: 2)
                    try assertOptimizedMatchesReference(large, [largeInput(seed: UInt64(k))], label + " large",
                                                        threads: [1, 2, 3])
                }
            }
        }
    }

    func testActivationTablesMatchReferenceOnAllInputs() throws {
        var rng = SeededGenerator(seed: 4321)
        for type in [TensorType.uint8, .int8] {
            for op in [BuiltinOperator.relu, .relu6, .reluN1To1, .hardSwish] {
                for trial in 0..<3 {
                    let si = Float.random(in: 0.01...0.05, using: &rng)
                    let so = si * Float.random(in: 0.5...2, using: &rng)
                    let zi = Self.zeroPoint(type, using: &rng), zo = Self.zeroPoint(type, 64...191, using: &rng)
                    let label = "\(op) \(type) \(si)/\(zi) -> \(so)/\(zo)"
                    let b = unaryModel(op, type, type, count: 256, input: quant(si, zi), output: quant(so, zo))
                    let expected = try assertOptimizedMatchesReference(b, [Self.allBytes], label)
                    assertVaries(expected, label)
                    if trial == 0 {
                        let large = unaryModel(op, type, type, count: Self.largeSize, input: quant(si, zi),
                                               output: quant(so, zo))
                        try assertOptimizedMatchesReference(large, [largeInput(seed: 77)], label + " large",
                                                            threads: [1, 2, 3])
                    }
                }
            }
        }
    }
}
