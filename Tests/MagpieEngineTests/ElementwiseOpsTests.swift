import XCTest
import MagpieEngine
import MagpieModel
import MagpieTestSupport

/// ADD, SUB, MUL, DIV, FLOOR_DIV and SQRT: LiteRT differential checks, hand-computed cases and refusals.
final class ElementwiseOpsTests: XCTestCase {
    /// Shape pairs: same shape, scalar, channel vector, two-sided broadcast, rank mismatch, odd sizes.
    static let shapePairs: [([Int], [Int])] = [
        ([1, 5, 7, 3], [1, 5, 7, 3]),
        ([2, 3, 17], [1]),
        ([1, 4, 4, 8], [8]),
        ([2, 1, 3, 1], [1, 4, 1, 5]),
        ([3, 1, 17], [2, 1, 1, 1]),
        ([1], [2, 3]),
        ([1, 2, 1, 3, 1, 2], [2, 1, 4, 1, 3, 1]),
        ([17], [17]),
    ]

    static func broadcast(_ a: [Int], _ b: [Int]) -> [Int] {
        let rank = max(a.count, b.count)
        let pa = Array(repeating: 1, count: rank - a.count) + a, pb = Array(repeating: 1, count: rank - b.count) + b
        return zip(pa, pb).map { max($0, $1) }
    }

    static let activations: [FusedActivation] = [.none, .relu, .relu6, .reluN1To1]

    // MARK: Quantized ADD / SUB / MUL / DIV

    private func addQuantizedCases(_ m: inout ElementwiseTestModel, _ op: BuiltinOperator, _ type: TensorType) {
        let name = op.name
        let version = type == .int8 ? 2 : 1
        let lo = type == .uint8 ? 0 : -128, hi = type == .uint8 ? 255 : 127
        // Shape pairs with random quantization.
        for (k, (sa, sb)) in Self.shapePairs.enumerated() {
            let qa = quant(m.scale(0.002...2), m.zeroPoint(type)), qb = quant(m.scale(0.002...2), m.zeroPoint(type))
            // An output scale that keeps most results inside the type (some saturate at the edges).
            let spread = m.scale(0.6...2)
            let outScale: Float
            switch op {
            case .add, .sub: outScale = (qa.scale + qb.scale) * spread
            case .mul: outScale = qa.scale * qb.scale * 64 * spread
            default: outScale = qa.scale / qb.scale / 16 * spread
            }
            let qo = quant(outScale, m.zeroPoint(type))
            let a = m.input(type, sa, qa, data: m.bytes(sa.reduce(1, *)))
            var bData = m.bytes(sb.reduce(1, *))
            if op == .div { bData = bData.map { $0 == UInt8(truncatingIfNeeded: qb.zeroPoint) ? $0 &+ 1 : $0 } }
            let b = m.input(type, sb, qb, data: bData)
            let out = m.output(type, Self.broadcast(sa, sb), qo, label: "\(name) \(type) \(sa)x\(sb)")
            m.op(op, [a, b], [out], .arithmetic(activation: Self.activations[k % 4]), version: version)
        }
        // Extreme zero points and scales, every fused activation.
        let extremes: [(Float, Int, Float, Int, Float, Int)] = [
            (0.5, lo, 0.5, hi, 1.0, lo),
            (1e-3, hi, 2e-3, lo, 3e-3, hi),
            (8.0, lo, 0.01, lo, 4.0, (lo + hi) / 2),
            (0.0039, hi, 0.0039, hi, 0.0078, lo),
        ]
        for (k, e) in extremes.enumerated() {
            for activation in Self.activations {
                let a = m.input(type, [3, 17], quant(e.0, e.1), data: m.bytes(51))
                var bData = m.bytes(17)
                if op == .div { bData = bData.map { $0 == UInt8(truncatingIfNeeded: e.3) ? $0 &+ 1 : $0 } }
                let b = m.input(type, [17], quant(e.2, e.3), data: bData)
                let out = m.output(type, [3, 17], quant(e.4, e.5), label: "\(name) \(type) extreme \(k) \(activation)")
                m.op(op, [a, b], [out], .arithmetic(activation: activation), version: version)
            }
        }
    }

    func testQuantizedUInt8AddSubMulMatchLiteRT() throws {
        var m = ElementwiseTestModel(seed: 1)
        for op in [BuiltinOperator.add, .sub, .mul] { addQuantizedCases(&m, op, .uint8) }
        try m.assertMatchesLiteRT()
    }

    func testQuantizedInt8AddSubMulMatchLiteRT() throws {
        var m = ElementwiseTestModel(seed: 2)
        for op in [BuiltinOperator.add, .sub, .mul] { addQuantizedCases(&m, op, .int8) }
        try m.assertMatchesLiteRT()
    }

    func testQuantizedDivMatchesLiteRT() throws {
        var m = ElementwiseTestModel(seed: 3)
        addQuantizedCases(&m, .div, .uint8)
        addQuantizedCases(&m, .div, .int8)
        // A numerator equal to its zero point (zero quotient) exercises the reference's huge rounding exponent.
        let a = m.input(.uint8, [4], quant(0.1, 7), data: [7, 7, 8, 6])
        let b = m.input(.uint8, [4], quant(0.05, 3), data: [1, 255, 4, 200])
        let out = m.output(.uint8, [4], quant(0.2, 10), label: "DIV uint8 zero numerator")
        m.op(.div, [a, b], [out], .arithmetic(activation: .none))
        try m.assertMatchesLiteRT()
    }

    // MARK: Float and integer arithmetic

    func testFloatArithmeticMatchesLiteRT() throws {
        var m = ElementwiseTestModel(seed: 4)
        for op in [BuiltinOperator.add, .sub, .mul, .div] {
            for (k, (sa, sb)) in Self.shapePairs.enumerated() {
                let a = m.input(.float32, sa, data: m.floats(sa.reduce(1, *), -10...10))
                let b = m.input(.float32, sb, data: m.floats(sb.reduce(1, *), -10...10))
                let out = m.output(.float32, Self.broadcast(sa, sb), label: "\(op.name) float \(sa)x\(sb)")
                m.op(op, [a, b], [out], .arithmetic(activation: Self.activations[k % 4]))
            }
        }
        // Overflow to infinity and division by zero saturate at ±FLT_MAX; 0/0 is NaN.
        let big = Float.greatestFiniteMagnitude
        let specials: [(BuiltinOperator, [Float], [Float])] = [
            (.add, [big, -big, 1, .infinity], [big, -big, 2, 1]),
            (.mul, [big, -big, 3, 0], [2, 2, -4, 5]),
            (.div, [1, -1, 0, 6], [0, 0, 0, -3]),
            (.sub, [-big, big, .infinity, 1], [big, -big, 1, .infinity]),
        ]
        for (op, x, y) in specials {
            let a = m.input(.float32, [4], data: Bytes.of(x)), b = m.input(.float32, [4], data: Bytes.of(y))
            let out = m.output(.float32, [4], label: "\(op.name) float specials")
            m.op(op, [a, b], [out], .arithmetic(activation: .none))
        }
        try m.assertMatchesLiteRT()
    }

    func testIntegerArithmeticMatchesLiteRT() throws {
        var m = ElementwiseTestModel(seed: 5)
        for op in [BuiltinOperator.add, .sub, .mul, .div] {
            for (k, (sa, sb)) in Self.shapePairs.enumerated() {
                let a = m.input(.int32, sa, data: m.ints(sa.reduce(1, *), Int32(-1000)...1000))
                var y = (0..<sb.reduce(1, *)).map { _ in Int32.random(in: -50...50, using: &m.rng) }
                if op == .div { y = y.map { $0 == 0 ? 7 : $0 } }
                let b = m.input(.int32, sb, data: Bytes.of(y))
                let out = m.output(.int32, Self.broadcast(sa, sb), label: "\(op.name) int32 \(sa)x\(sb)")
                m.op(op, [a, b], [out], .arithmetic(activation: Self.activations[k % 4]))
            }
        }
        // Wrapping overflow and truncating division of negative numbers.
        let wrapA: [Int32] = [Int32.max, Int32.min, -7, 7, -7, 100_000]
        let wrapB: [Int32] = [1, -1, 2, -2, -2, 100_000]
        for op in [BuiltinOperator.add, .sub, .mul, .div] {
            let a = m.input(.int32, [6], data: Bytes.of(wrapA))
            let b = m.input(.int32, [6], data: Bytes.of(op == .div ? [3, 2, 2, -2, -2, 7] : wrapB))
            let out = m.output(.int32, [6], label: "\(op.name) int32 edge values")
            m.op(op, [a, b], [out], .arithmetic(activation: .none))
        }
        for op in [BuiltinOperator.add, .sub, .mul] {
            let a = m.input(.int64, [2, 3], data: m.ints(6, Int64(-1) << 40...Int64(1) << 40))
            let b = m.input(.int64, [3], data: m.ints(3, Int64(-1000)...1000))
            let out = m.output(.int64, [2, 3], label: "\(op.name) int64")
            m.op(op, [a, b], [out], .arithmetic(activation: .relu), version: 4)
        }
        try m.assertMatchesLiteRT()
    }

    func testFloorDivAndSqrtMatchLiteRT() throws {
        var m = ElementwiseTestModel(seed: 6)
        let pairs: [([Int], [Int])] = [([2, 3, 4], [2, 3, 4]), ([2, 3, 4], [4]), ([3, 1], [1, 5]), ([1, 2, 1, 3], [2, 1, 4, 1])]
        for (sa, sb) in pairs {
            let a = m.input(.float32, sa, data: m.floats(sa.reduce(1, *), -20...20))
            let yb = (0..<sb.reduce(1, *)).map { _ in Float.random(in: 0.25...6, using: &m.rng) * (Bool.random(using: &m.rng) ? 1 : -1) }
            let b = m.input(.float32, sb, data: Bytes.of(yb))
            let out = m.output(.float32, Self.broadcast(sa, sb), label: "FLOOR_DIV float \(sa)x\(sb)")
            m.op(.floorDiv, [a, b], [out])
            for type in [TensorType.int32, .int16, .int8] {
                let n = sa.reduce(1, *), nb = sb.reduce(1, *)
                let ia: [UInt8], ib: [UInt8]
                switch type {
                case .int32:
                    ia = m.ints(n, Int32(-1000)...1000)
                    ib = Bytes.of((0..<nb).map { _ in Int32.random(in: 1...9, using: &m.rng) * (Bool.random(using: &m.rng) ? 1 : -1) })
                case .int16:
                    ia = m.ints(n, Int16.min...Int16.max)
                    ib = Bytes.of((0..<nb).map { _ in Int16.random(in: 1...300, using: &m.rng) * (Bool.random(using: &m.rng) ? 1 : -1) })
                default:
                    ia = m.ints(n, Int8.min...Int8.max)
                    ib = Bytes.of((0..<nb).map { _ in Int8.random(in: 1...9, using: &m.rng) * (Bool.random(using: &m.rng) ? 1 : -1) })
                }
                let a = m.input(type, sa, data: ia), b = m.input(type, sb, data: ib)
                let out = m.output(type, Self.broadcast(sa, sb), label: "FLOOR_DIV \(type) \(sa)x\(sb)")
                m.op(.floorDiv, [a, b], [out], version: 2)
            }
        }
        // INT32_MIN / -1 and INT8_MIN / -1 overflow the type after the double-precision floor.
        let a = m.input(.int32, [3], data: Bytes.of([Int32.min, Int32.max, -7]))
        let b = m.input(.int32, [3], data: Bytes.of([Int32(-1), -1, 2]))
        let out = m.output(.int32, [3], label: "FLOOR_DIV int32 overflow")
        m.op(.floorDiv, [a, b], [out])
        let a8 = m.input(.int8, [2], data: Bytes.of([Int8.min, 5]))
        let b8 = m.input(.int8, [2], data: Bytes.of([Int8(-1), -2]))
        let out8 = m.output(.int8, [2], label: "FLOOR_DIV int8 overflow")
        m.op(.floorDiv, [a8, b8], [out8], version: 2)
        // SQRT, including a negative input (NaN) and zero.
        let s = m.input(.float32, [2, 9], data: Bytes.of([0, 1, 2, -1, 1e-30, 1e30, 0.25, 3, 17] + (0..<9).map { _ in Float.random(in: 0...100, using: &m.rng) }))
        let so = m.output(.float32, [2, 9], label: "SQRT")
        m.op(.sqrt, [s], [so])
        try m.assertMatchesLiteRT()
    }

    // MARK: Runtime errors

    func testDivisionByZeroFailsAtInvokeLikeLiteRT() throws {
        let cases: [(BuiltinOperator, TensorType, [UInt8], [UInt8], QuantizationParameters?)] = [
            (.floorDiv, .int32, Bytes.of([Int32(4), 5]), Bytes.of([Int32(2), 0]), nil),
            (.floorDiv, .float32, Bytes.of([Float(4), 5]), Bytes.of([Float(-0.0), 1]), nil),
            (.div, .int32, Bytes.of([Int32(4), 5]), Bytes.of([Int32(0), 1]), nil),
            (.div, .uint8, [10, 20], [3, 9], quant(0.5, 9)),
        ]
        for (op, type, x, y, q) in cases {
            var b = OpModelBuilder()
            let i0 = b.input("a", type, [2], quantization: q), i1 = b.input("b", type, [2], quantization: q)
            let o = b.tensor("y", type, [2], quantization: q)
            b.op(op, inputs: [i0, i1], outputs: [o], options: op == .div ? .arithmetic(activation: .none) : .none)
            XCTAssertThrowsError(try b.run([x, y]), "\(op) \(type)") { error in
                guard case let EngineError.runtime(0, name, reason) = error else { return XCTFail("\(error)") }
                XCTAssertEqual(name, op.name)
                XCTAssert(reason.contains("division by zero"), reason)
            }
            if LiteRTReference.unavailableReason == nil {
                let outcome = try LiteRTReference.run(model: b.build(), inputs: [x, y], outputCount: 1)
                guard case .refused = outcome else { return XCTFail("LiteRT accepted \(op) \(type) by zero: \(outcome)") }
            }
        }
    }

    // MARK: Hand-computed cases (no LiteRT needed)

    func testQuantizedAddHandComputed() throws {
        // uint8 ADD, both inputs scale 0.5 zp 10, output scale 1.0 zp 3.
        // twice_max = 1.0; input multipliers 0.5 -> (2^30, 0); output multiplier 1/2^20 -> (2^30, -19).
        // a = 30 -> (30 - 10) << 20 = 20 * 2^20; * 0.5 = 10 * 2^20. b = 14 -> 4 << 20 * 0.5 = 2 * 2^20.
        // sum 12 * 2^20; * 2^-20 = 12 (exact); + 3 = 15. Real value: 0.5*20 + 0.5*4 = 12 -> 12 / 1.0 + 3 = 15.
        // a = 11, b = 10 -> 0.5 + 0 = 0.5 -> 0.5 * 2^20 rescaled = 0.5, rounds half away from zero to 1 -> 4.
        // a = 0, b = 0 -> -5 - 5 = -10 -> -7 clamps to 0; with RELU the floor is the quantized 0.0 = 3.
        var b = OpModelBuilder()
        let x = b.input("a", .uint8, [3], quantization: quant(0.5, 10))
        let y = b.input("b", .uint8, [3], quantization: quant(0.5, 10))
        let z = b.tensor("y", .uint8, [3], quantization: quant(1.0, 3))
        let r = b.tensor("r", .uint8, [3], quantization: quant(1.0, 3))
        b.op(.add, inputs: [x, y], outputs: [z], options: .arithmetic(activation: .none))
        b.op(.add, inputs: [x, y], outputs: [r], options: .arithmetic(activation: .relu))
        let out = try b.run([[30, 11, 0], [14, 10, 0]])
        XCTAssertEqual(out[0], [15, 4, 0])
        XCTAssertEqual(out[1], [15, 4, 3])
    }

    func testQuantizedMulHandComputed() throws {
        // int8 MUL: scales 0.5 * 0.25 / 0.125 = 1.0 -> multiplier (2^30, 1), exact.
        // (20 - 0) * (-8 - (-4)) = 20 * -4 = -80 -> -80 + zp(5) = -75. (127)(127 - (-4)) = 127 * 131 = 16637 -> 127.
        var b = OpModelBuilder()
        let x = b.input("a", .int8, [2], quantization: quant(0.5, 0))
        let y = b.input("b", .int8, [2], quantization: quant(0.25, -4))
        let z = b.tensor("y", .int8, [2], quantization: quant(0.125, 5))
        b.op(.mul, inputs: [x, y], outputs: [z], options: .arithmetic(activation: .none), version: 2)
        let out = try b.run([Bytes.of([Int8(20), 127]), Bytes.of([Int8(-8), 127])])
        XCTAssertEqual(Bytes.array(out[0], as: Int8.self), [-75, 127])
    }

    func testQuantizedDivHandComputed() throws {
        // uint8 DIV, all scales 1 and zero points 0: output multiplier 1.0 = (2^30, shift 1).
        // 6 / 3: GetReciprocal(3) = 1/1.5 in Q0.31 with 1 bit over one; headroom(6) = 28;
        // SRDHM(6 << 28, ~2/3 * 2^31) ~ 2^30; total shift 1 - 1 - 28 = -28 -> SRDHM(2^30, 2^30) = 2^29 -> / 2^28 = 2.
        // 9 / 3 likewise gives 3; 200 / 8 = 25 (8 is a power of two: the reciprocal is exact).
        var b = OpModelBuilder()
        let x = b.input("a", .uint8, [3], quantization: quant(1, 0))
        let y = b.input("b", .uint8, [3], quantization: quant(1, 0))
        let z = b.tensor("y", .uint8, [3], quantization: quant(1, 0))
        b.op(.div, inputs: [x, y], outputs: [z], options: .arithmetic(activation: .none), version: 2)
        XCTAssertEqual(try b.run([[6, 9, 200], [3, 3, 8]])[0], [2, 3, 25])
    }

    func testFloatAndIntegerHandComputed() throws {
        var b = OpModelBuilder()
        let fa = b.input("fa", .float32, [2, 2]), fb = b.input("fb", .float32, [2])
        let ia = b.input("ia", .int32, [3]), ib = b.input("ib", .int32, [3])
        let add = b.tensor("add", .float32, [2, 2]), sub = b.tensor("sub", .float32, [2, 2])
        let div = b.tensor("div", .int32, [3]), fdiv = b.tensor("fdiv", .int32, [3])
        b.op(.add, inputs: [fa, fb], outputs: [add], options: .arithmetic(activation: .relu6))
        b.op(.sub, inputs: [fa, fb], outputs: [sub], options: .arithmetic(activation: .none))
        b.op(.div, inputs: [ia, ib], outputs: [div], options: .arithmetic(activation: .none))
        b.op(.floorDiv, inputs: [ia, ib], outputs: [fdiv])
        let out = try b.run([Bytes.of([Float(1), 2, 3, 4]), Bytes.of([Float(10), -3]),
                             Bytes.of([Int32(-7), 7, -9]), Bytes.of([Int32(2), -2, 3])])
        XCTAssertEqual(Bytes.floats(out[0]), [6, 0, 6, 1])        // [11, -1, 13, 1] clamped to [0, 6]
        XCTAssertEqual(Bytes.floats(out[1]), [-9, 5, -7, 7])
        XCTAssertEqual(Bytes.array(out[2], as: Int32.self), [-3, -3, -3])   // C++ truncation
        XCTAssertEqual(Bytes.array(out[3], as: Int32.self), [-4, -4, -3])   // floor
    }

    // MARK: Refusals

    func testInvalidArithmeticIsRefused() {
        // Incompatible broadcast shapes.
        var b = OpModelBuilder()
        var x = b.input("a", .float32, [2, 3]), y = b.input("b", .float32, [4])
        var z = b.tensor("y", .float32, [2, 3])
        b.op(.add, inputs: [x, y], outputs: [z], options: .arithmetic(activation: .none))
        assertRefused(b, op: "ADD", containing: "broadcast")

        // Mixed input types.
        b = OpModelBuilder()
        x = b.input("a", .float32, [2]); y = b.input("b", .int32, [2]); z = b.tensor("y", .float32, [2])
        b.op(.mul, inputs: [x, y], outputs: [z], options: .arithmetic(activation: .none))
        assertRefused(b, op: "MUL", containing: "types differ")

        // Quantized ADD without quantization parameters.
        b = OpModelBuilder()
        x = b.input("a", .uint8, [2]); y = b.input("b", .uint8, [2]); z = b.tensor("y", .uint8, [2])
        b.op(.add, inputs: [x, y], outputs: [z], options: .arithmetic(activation: .none))
        assertRefused(b, op: "ADD", containing: "quantization")

        // Unsupported type.
        b = OpModelBuilder()
        x = b.input("a", .int16, [2]); y = b.input("b", .int16, [2]); z = b.tensor("y", .int16, [2])
        b.op(.sub, inputs: [x, y], outputs: [z], options: .arithmetic(activation: .none))
        assertRefused(b, op: "SUB", containing: "int16")

        // TANH as a fused activation.
        b = OpModelBuilder()
        x = b.input("a", .float32, [2]); y = b.input("b", .float32, [2]); z = b.tensor("y", .float32, [2])
        b.op(.add, inputs: [x, y], outputs: [z], options: .arithmetic(activation: .tanh))
        assertRefused(b, op: "ADD", containing: "fused activation")

        // Output type different from the inputs.
        b = OpModelBuilder()
        x = b.input("a", .int32, [2]); y = b.input("b", .int32, [2]); z = b.tensor("y", .float32, [2])
        b.op(.div, inputs: [x, y], outputs: [z], options: .arithmetic(activation: .none))
        assertRefused(b, op: "DIV", containing: "output type")

        // Quantized ADD whose output scale is too fine for the 20-bit rescaling (LiteRT aborts on it).
        b = OpModelBuilder()
        x = b.input("a", .int8, [2], quantization: quant(1, 0)); y = b.input("b", .int8, [2], quantization: quant(1, 0))
        z = b.tensor("y", .int8, [2], quantization: quant(1e-7, 0))
        b.op(.add, inputs: [x, y], outputs: [z], options: .arithmetic(activation: .none))
        assertRefused(b, op: "ADD", containing: "too small")

        // FLOOR_DIV broadcasting beyond 4-D, and with uint8.
        b = OpModelBuilder()
        x = b.input("a", .float32, [2, 1, 1, 1, 3]); y = b.input("b", .float32, [3]); z = b.tensor("y", .float32, [2, 1, 1, 1, 3])
        b.op(.floorDiv, inputs: [x, y], outputs: [z])
        assertRefused(b, op: "FLOOR_DIV", containing: "4 dimensions")
        b = OpModelBuilder()
        x = b.input("a", .uint8, [2]); y = b.input("b", .uint8, [2]); z = b.tensor("y", .uint8, [2])
        b.op(.floorDiv, inputs: [x, y], outputs: [z])
        assertRefused(b, op: "FLOOR_DIV", containing: "uint8")

        // Broadcasting beyond 6-D, and a wrong number of inputs.
        b = OpModelBuilder()
        x = b.input("a", .float32, [2, 1, 1, 1, 1, 1, 3]); y = b.input("b", .float32, [3])
        z = b.tensor("y", .float32, [2, 1, 1, 1, 1, 1, 3])
        b.op(.mul, inputs: [x, y], outputs: [z], options: .arithmetic(activation: .none))
        assertRefused(b, op: "MUL", containing: "6 dimensions")
        b = OpModelBuilder()
        x = b.input("a", .float32, [2]); z = b.tensor("y", .float32, [2])
        b.op(.add, inputs: [x], outputs: [z], options: .arithmetic(activation: .none))
        assertRefused(b, op: "ADD", containing: "inputs")

        // SQRT of an integer tensor.
        b = OpModelBuilder()
        x = b.input("a", .int32, [2]); z = b.tensor("y", .int32, [2])
        b.op(.sqrt, inputs: [x], outputs: [z])
        assertRefused(b, op: "SQRT", containing: "int32")
    }
}
