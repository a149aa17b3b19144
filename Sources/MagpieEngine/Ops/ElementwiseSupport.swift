import Foundation
import MagpieModel

// Shared helpers of the elementwise group (arithmetic, activations, quantization): element-type protocols,
// TFLite's broadcasting, C++-exact clamping/rounding/conversions, TFLite's QuantizeMultiplier and gemmlowp's
// fixed-point primitives. Everything here follows LiteRT 2.3.0's reference kernels bit for bit.

/// Namespace of the elementwise group's shared helpers (kept apart from other groups' helpers).
enum Elementwise {
    /// The integer types quantized tensors are stored in.
    protocol QuantizedElement: FixedWidthInteger, Sendable {}

    /// C++ arithmetic semantics the reference kernels rely on (as compiled for x86-64 by LiteRT).
    enum CppMath {
        /// `std::min(std::max(x, lo), hi)`, including the libstdc++ argument order (NaN passes through; on ties the
        /// first argument wins), which is TFLite's `ActivationFunctionWithMinMax`.
        @inline(__always)
        static func clamp<T: Comparable>(_ x: T, _ lo: T, _ hi: T) -> T {
            let a = x < lo ? lo : x      // std::max(x, lo)
            return hi < a ? hi : a       // std::min(a, hi)
        }

        /// `std::round` / `TfLiteRound` on a float: half away from zero.
        @inline(__always)
        static func round(_ x: Float) -> Float { x.rounded(.toNearestOrAwayFromZero) }

        /// `static_cast<int32_t>(x)` for a float as x86-64 executes it (`cvttss2si`): truncation toward zero, and the
        /// "integer indefinite" value `INT32_MIN` for NaN and out-of-range values (undefined behaviour in C++).
        @inline(__always)
        static func int32(_ x: Float) -> Int32 {
            guard x.isFinite, x > -2_147_483_904, x < 2_147_483_648 else { return Int32.min }
            return Int32(x)
        }

        /// `static_cast<int32_t>(x)` for a double as x86-64 executes it (`cvttsd2si`).
        @inline(__always)
        static func int32(_ x: Double) -> Int32 {
            guard x.isFinite, x > -2_147_483_649, x < 2_147_483_648 else { return Int32.min }
            return Int32(x)
        }

        /// `static_cast<T>(x)` of a double for an integer `T` of at most 32 bits: C++ converts through a 32-bit
        /// integer on x86-64 and keeps the low bits.
        @inline(__always)
        static func narrow<T: FixedWidthInteger>(_ x: Double, as _: T.Type) -> T {
            T(truncatingIfNeeded: int32(x))
        }

        /// gemmlowp's `CountLeadingSignBits` for int32 (`__builtin_clrsb`): 31 for 0 and -1.
        @inline(__always)
        static func countLeadingSignBits(_ x: Int32) -> Int {
            x >= 0 ? x.leadingZeroBitCount - 1 : (~x).leadingZeroBitCount - 1
        }
    }

    /// The TFLite quantization helpers the reference kernels use, reproduced locally where the shared
    /// `QuantizedArithmetic` differs or lacks them.
    enum TFLiteQuantization {
        /// TFLite's double-rounding `QuantizeMultiplier` exactly: frexp, round half away from zero, 2^31 renormalised,
        /// shifts below -31 flushed to zero — and, unlike `QuantizedArithmetic.quantizeMultiplier`, *no* clamp of
        /// shifts above 30 (LiteRT only clamps in its single-rounding build). Softmax relies on shift 31.
        static func quantizeMultiplier(_ real: Double) -> (multiplier: Int32, shift: Int) {
            if real == 0 { return (0, 0) }
            let parts = frexp(real)
            var shift = parts.1
            var q = (parts.0 * Double(Int64(1) << 31)).rounded(.toNearestOrAwayFromZero)
            if q == Double(Int64(1) << 31) {
                q /= 2
                shift += 1
            }
            if shift < -31 { return (0, 0) }
            return (Int32(q), shift)
        }

        /// TFLite's `CalculateActivationRangeQuantized` with C++'s float-to-int conversion (no trap for tiny scales).
        static func activationRange<T: QuantizedElement>(_ activation: FusedActivationKind, scale: Float,
                                                         zeroPoint: Int32, as _: T.Type) -> (min: Int32, max: Int32) {
            let qmin = Int32(T.min), qmax = Int32(T.max)
            func quantize(_ f: Float) -> Int32 { zeroPoint &+ CppMath.int32(CppMath.round(f / scale)) }
            switch activation {
            case .none: return (qmin, qmax)
            case .relu: return (max(qmin, quantize(0)), qmax)
            case .relu6: return (max(qmin, quantize(0)), min(qmax, quantize(6)))
            case .reluN1To1: return (max(qmin, quantize(-1)), min(qmax, quantize(1)))
            }
        }

        /// TFLite's `CalculateActivationRange` for integer (unquantized) outputs.
        static func integerActivationRange<T: FixedWidthInteger>(_ activation: FusedActivationKind,
                                                                 as _: T.Type) -> (min: T, max: T) {
            switch activation {
            case .none: return (T.min, T.max)
            case .relu: return (0, T.max)
            case .relu6: return (0, 6)
            case .reluN1To1: return (T(truncatingIfNeeded: -1), 1)
            }
        }

        /// `MultiplyByQuantizedMultiplierGreaterThanOne`: `SRDHM(x * 2^leftShift, multiplier)` with a wrapping shift.
        @inline(__always)
        static func multiplyGreaterThanOne(_ x: Int32, _ multiplier: Int32, _ leftShift: Int) -> Int32 {
            QuantizedArithmetic.saturatingRoundingDoublingHighMul(x &* (Int32(1) &<< Int32(leftShift)), multiplier)
        }

        /// `MultiplyByQuantizedMultiplierSmallerThanOneExp`: `RoundingDivideByPOT(SRDHM(x, m), -shift)`, where the
        /// exponent may exceed 31 (see `Gemmlowp.roundingDivideByPOT`).
        @inline(__always)
        static func multiplySmallerThanOne(_ x: Int32, _ multiplier: Int32, _ shift: Int) -> Int32 {
            Gemmlowp.roundingDivideByPOT(QuantizedArithmetic.saturatingRoundingDoublingHighMul(x, multiplier), -shift)
        }

        /// Checks that a tensor carries usable per-tensor affine quantization.
        static func requirePerTensor(_ t: TensorInfo, _ role: String, _ context: PrepareContext) throws {
            guard let q = t.quantization, !q.scales.isEmpty else {
                throw KernelError("\(role) tensor '\(t.name)' of type \(t.type) has no quantization parameters")
            }
            try context.require(q.scales.count == 1, "\(role) tensor '\(t.name)' is quantized per channel; only per-tensor quantization is supported here")
            try context.require(q.scale > 0 && q.scale.isFinite, "\(role) tensor '\(t.name)' has invalid scale \(q.scale)")
        }

        /// Checks that a zero point lies within the storage type's range.
        static func requireZeroPoint<T: QuantizedElement>(_ t: TensorInfo, _ role: String, as _: T.Type,
                                                          _ context: PrepareContext) throws {
            let zp = t.quantization?.zeroPoint ?? 0
            try context.require(zp >= Int(T.min) && zp <= Int(T.max),
                                "\(role) zero point \(zp) is outside the range of \(t.type)")
        }
    }

    /// gemmlowp's fixed-point primitives on int32 (fixedpoint.h), as the reference kernels use them.
    enum Gemmlowp {
        @inline(__always)
        static func srdhm(_ a: Int32, _ b: Int32) -> Int32 { QuantizedArithmetic.saturatingRoundingDoublingHighMul(a, b) }

        /// `RoundingDivideByPOT` for int32. For exponents in 0...31 this is the rounding arithmetic right shift. The
        /// reference kernels can pass larger exponents (quantized DIV of a zero numerator); the result then follows
        /// what the C++ computes on x86-64: the 64-bit mask truncated to 32 bits and the shift count taken modulo 32.
        @inline(__always)
        static func roundingDivideByPOT(_ x: Int32, _ exponent: Int) -> Int32 {
            if exponent >= 0 && exponent <= 31 { return QuantizedArithmetic.roundingDivideByPowerOfTwo(x, exponent) }
            let mask = Int32(truncatingIfNeeded: (Int64(1) &<< Int64(exponent & 63)) &- 1)
            let remainder = x & mask
            let threshold = (mask >> 1) &+ (x < 0 ? 1 : 0)
            return (x >> Int32(exponent & 31)) &+ (remainder > threshold ? 1 : 0)
        }

        /// `SaturatingRoundingMultiplyByPOT<exponent>` for a positive exponent: a saturating left shift.
        @inline(__always)
        static func saturatingShiftLeft(_ x: Int32, _ exponent: Int) -> Int32 {
            let threshold = (Int32(1) << Int32(31 - exponent)) - 1
            if x > threshold { return Int32.max }
            if x < -threshold { return Int32.min }
            return x &<< Int32(exponent)
        }

        /// `RoundingHalfSum` for int32.
        @inline(__always)
        static func roundingHalfSum(_ a: Int32, _ b: Int32) -> Int32 {
            let sum = Int64(a) + Int64(b)
            return Int32(truncatingIfNeeded: (sum + (sum >= 0 ? 1 : -1)) / 2)
        }

        /// `exp_on_interval_between_negative_one_quarter_and_0_excl` (Q0.31 in and out).
        static func expOnIntervalBetweenNegativeOneQuarterAnd0Excl(_ a: Int32) -> Int32 {
            let constantTerm: Int32 = 1_895_147_668          // exp(-1/8)
            let constantOneThird: Int32 = 715_827_883        // 1/3
            let x = a &+ (1 << 28)                            // a + 1/8
            let x2 = srdhm(x, x)
            let x3 = srdhm(x2, x)
            let x4 = srdhm(x2, x2)
            let x4Over4 = roundingDivideByPOT(x4, 2)
            let poly = roundingDivideByPOT(srdhm(x4Over4 &+ x3, constantOneThird) &+ x2, 1)
            return constantTerm &+ srdhm(constantTerm, x &+ poly)
        }

        /// `exp_on_negative_values` for an input with `integerBits` integer bits; returns Q0.31.
        static func expOnNegativeValues(_ a: Int32, integerBits: Int) -> Int32 {
            let fractionalBits = 31 - integerBits
            let oneQuarter = Int32(1) << Int32(fractionalBits - 2)
            let mask = oneQuarter - 1
            let aModQuarterMinusOneQuarter = (a & mask) &- oneQuarter
            // Rescale<0> from `integerBits`: a saturating left shift.
            var result = expOnIntervalBetweenNegativeOneQuarterAnd0Excl(
                integerBits == 0 ? aModQuarterMinusOneQuarter : saturatingShiftLeft(aModQuarterMinusOneQuarter, integerBits))
            let remainder = aModQuarterMinusOneQuarter &- a
            let barrel: [(exponent: Int, multiplier: Int32)] = [
                (-2, 1_672_461_947), (-1, 1_302_514_674), (0, 790_015_084), (1, 290_630_308),
                (2, 39_332_535), (3, 720_401), (4, 242),
            ]
            for (exponent, multiplier) in barrel where integerBits > exponent {
                let shiftAmount = fractionalBits + exponent
                if remainder & (Int32(1) << Int32(shiftAmount)) != 0 { result = srdhm(result, multiplier) }
            }
            if integerBits > 5 {
                let clamp = -(Int32(1) << Int32(36 - integerBits))   // -32.0
                if a < clamp { result = 0 }
            }
            return a == 0 ? Int32.max : result
        }

        /// `one_over_one_plus_x_for_x_in_0_1` (Q0.31 in and out).
        static func oneOverOnePlusXForXIn01(_ a: Int32) -> Int32 {
            let halfDenominator = roundingHalfSum(a, Int32.max)
            let constant48Over17: Int32 = 1_515_870_810      // Q2.29
            let constantNeg32Over17: Int32 = -1_010_580_540  // Q2.29
            var x = constant48Over17 &+ srdhm(halfDenominator, constantNeg32Over17)
            let oneQ2: Int32 = 1 << 29
            for _ in 0..<3 {
                let halfDenominatorTimesX = srdhm(halfDenominator, x)
                let oneMinus = oneQ2 &- halfDenominatorTimesX
                x = x &+ saturatingShiftLeft(srdhm(x, oneMinus), 2)   // Rescale<2> from Q4
            }
            return saturatingShiftLeft(x, 1)                          // Rescale<0>(ExactMulByPot<-1>(x))
        }

        /// TFLite's `GetReciprocal`: 1/x for x in Qm with `integerDigits` integer bits; returns Q0.31 and the number of
        /// bits above one.
        static func reciprocal(_ x: Int32, integerDigits: Int) -> (value: Int32, bitsOverUnit: Int) {
            let headroomPlusOne = UInt32(bitPattern: x).leadingZeroBitCount
            let bitsOverUnit = integerDigits - headroomPlusOne
            let shiftedMinusOne = Int32(bitPattern: (UInt32(bitPattern: x) &<< UInt32(headroomPlusOne)) &- (UInt32(1) << 31))
            return (oneOverOnePlusXForXIn01(shiftedMinusOne), bitsOverUnit)
        }
    }

    /// TFLite's `CalculateShapeForBroadcast` plus the index arithmetic of its broadcasting reference loops: inputs are
    /// aligned at their last dimension and padded to `rank` with leading ones; a dimension of 1 repeats.
    struct BroadcastShape: Sendable {
        /// The output shape (rank of the larger input).
        let output: [Int]
        /// False when both inputs have exactly the same shape (TFLite's `HaveSameShapes`): a flat loop.
        let needsBroadcast: Bool
        /// Output extents padded to six dimensions (leading ones).
        let extents: [Int]
        /// Element strides of each input along the padded output dimensions (0 where the input repeats).
        let strides1: [Int]
        let strides2: [Int]

        static let maxRank = 6

        /// - Throws: `KernelError` when the shapes are not broadcast-compatible or need more than `maxRank` dimensions.
        init(_ a: [Int], _ b: [Int], maxRank: Int = BroadcastShape.maxRank) throws {
            let broadcast = a != b
            needsBroadcast = broadcast
            let rank = max(a.count, b.count)
            var out = [Int](repeating: 1, count: rank)
            for i in 0..<rank {
                let da = i < rank - a.count ? 1 : a[i - (rank - a.count)]
                let db = i < rank - b.count ? 1 : b[i - (rank - b.count)]
                guard da == db || da == 1 || db == 1 else {
                    throw KernelError("shapes \(a) and \(b) cannot be broadcast together")
                }
                out[i] = da == 1 ? db : da
            }
            output = out
            if broadcast {
                guard rank <= maxRank else {
                    throw KernelError("broadcasting is supported up to \(maxRank) dimensions, got shapes \(a) and \(b)")
                }
            }
            func strides(_ s: [Int]) -> [Int] {
                // Element strides along the padded dimensions; 0 where the input has extent 1.
                let padded = [Int](repeating: 1, count: Self.maxRank - s.count) + s
                var result = [Int](repeating: 0, count: Self.maxRank)
                var step = 1
                for d in (0..<Self.maxRank).reversed() {
                    result[d] = padded[d] == 1 ? 0 : step
                    step *= padded[d]
                }
                return result
            }
            if rank <= Self.maxRank {
                extents = [Int](repeating: 1, count: Self.maxRank - rank) + out
                strides1 = strides(a)
                strides2 = strides(b)
            } else {
                // Same shapes beyond six dimensions: only the flat loop is used.
                extents = []
                strides1 = []
                strides2 = []
            }
        }

        var elementCount: Int { output.reduce(1, *) }

        /// Calls `body(i1, i2, o)` with the element offsets of both inputs for every output offset `o`, in row-major
        /// output order.
        @inline(__always)
        func forEach(_ body: (Int, Int, Int) throws -> Void) rethrows {
            if !needsBroadcast {
                for i in 0..<elementCount { try body(i, i, i) }
                return
            }
            let e = extents, s1 = strides1, s2 = strides2
            var o = 0
            for i0 in 0..<e[0] {
                for i1 in 0..<e[1] {
                    for i2 in 0..<e[2] {
                        for i3 in 0..<e[3] {
                            let base1 = i0 * s1[0] + i1 * s1[1] + i2 * s1[2] + i3 * s1[3]
                            let base2 = i0 * s2[0] + i1 * s2[1] + i2 * s2[2] + i3 * s2[3]
                            for i4 in 0..<e[4] {
                                for i5 in 0..<e[5] {
                                    try body(base1 + i4 * s1[4] + i5 * s1[5], base2 + i4 * s2[4] + i5 * s2[5], o)
                                    o += 1
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// An elementwise function of two inputs, with the parameters prepared once.
    protocol BinaryOperation {
        associatedtype Element
        associatedtype Result
        func apply(_ a: Element, _ b: Element) -> Result
        /// Runtime checks on the second input before anything is computed (division by zero); LiteRT fails the whole
        /// invocation in that case.
        func validate(denominator: UnsafePointer<Element>, count: Int) throws
    }


    /// A kernel running a binary operation over two (possibly broadcast) inputs. The loop is built where `Op` is
    /// a concrete type, so the compiler specializes it: no per-element dynamic dispatch.
    static func binaryKernel<Op: BinaryOperation>(_ op: Op, shape: BroadcastShape, input1: Int, input2: Int,
                                                  output: Int, input2Count: Int) -> Kernel {
        ClosureKernel { t in
            let a = t.pointer(input1, as: Op.Element.self)
            let b = t.pointer(input2, as: Op.Element.self)
            let out = t.pointer(output, as: Op.Result.self)
            try op.validate(denominator: UnsafePointer(b), count: input2Count)
            shape.forEach { i, j, o in out[o] = op.apply(a[i], b[j]) }
        }
    }

    /// An elementwise function of one input, with the parameters prepared once.
    protocol UnaryOperation {
        associatedtype Input
        associatedtype Output
        func apply(_ x: Input) -> Output
    }

    /// A kernel running a unary operation over every element (specialized where `Op` is concrete).
    static func unaryKernel<Op: UnaryOperation>(_ op: Op, input: Int, output: Int, count: Int) -> Kernel {
        ClosureKernel { t in
            let x = t.pointer(input, as: Op.Input.self)
            let y = t.pointer(output, as: Op.Output.self)
            for i in 0..<count { y[i] = op.apply(x[i]) }
        }
    }

    /// A 256-entry lookup table from an 8-bit quantized input to an 8-bit output, indexed by the input's bit pattern.
    struct LookupTable<T: QuantizedElement>: UnaryOperation {
        let table: UnsafePointer<T>
        @inline(__always)
        func apply(_ x: T) -> T { table[Int(UInt8(truncatingIfNeeded: x))] }
    }

    // `UnsafePointer` into plan-owned scratch memory, immutable after prepare.

    enum LookupTables {
        /// TFLite's `LUTPopulate<uint8_t/int8_t>`: dequantize every input value in float, apply `transform`, requantize
        /// with `round(y * (1 / outputScale)) + zeroPoint` in float and clamp. The table lives in plan-owned memory.
        static func populate<T: QuantizedElement>(_ context: inout PrepareContext, as _: T.Type,
                                                  inputScale: Float, inputZeroPoint: Int32,
                                                  outputScale: Float, outputZeroPoint: Int32,
                                                  transform: (Float) -> Float) -> LookupTable<T> {
            let table = context.allocate(T.self, count: 256)
            let inverseScale = 1 / outputScale
            for value in Int32(T.min)...Int32(T.max) {
                let dequantized = inputScale * Float(value - inputZeroPoint)
                let rescaled = CppMath.round(transform(dequantized) * inverseScale)
                let quantized = CppMath.int32(rescaled + Float(outputZeroPoint))
                let clamped = min(max(quantized, Int32(T.min)), Int32(T.max))
                table[Int(UInt8(truncatingIfNeeded: value))] = T(clamped)
            }
            return LookupTable(table: UnsafePointer(table))
        }
    }

    /// Requires a tensor's type to be one of `types`, naming the supported list otherwise.
    static func requireType(_ t: TensorInfo, in types: [TensorType], _ what: String, _ context: PrepareContext) throws {
        try context.require(types.contains(t.type),
                            "\(what) type \(t.type) is not supported (supported: \(types.map(\.description).joined(separator: ", ")))")
    }

    /// The fused activation of an arithmetic operator's options (none when absent).
    static func arithmeticActivation(_ context: PrepareContext) throws -> FusedActivationKind {
        if case let .arithmetic(activation) = context.op.options { return try activation.kind() }
        return .none
    }
}

extension Elementwise.BinaryOperation {
    func validate(denominator: UnsafePointer<Element>, count: Int) throws {}
}

extension UInt8: Elementwise.QuantizedElement {}
extension Int8: Elementwise.QuantizedElement {}
extension Int16: Elementwise.QuantizedElement {}
