import Foundation
import MagpieModel

// The per-element arithmetic of ADD, SUB, MUL, DIV and FLOOR_DIV (LiteRT 2.3.0 reference kernels), and the shared
// prepare step of the four fused-activation arithmetic operators.

extension Elementwise {
    // MARK: Float

    /// `ActivationFunctionWithMinMax(a + b, min, max)`; with no activation the range is ±FLT_MAX, so infinities
    /// saturate to ±FLT_MAX as in TFLite.
    struct FloatAdd: BinaryOperation {
        let lo: Float, hi: Float
        @inline(__always) func apply(_ a: Float, _ b: Float) -> Float { CppMath.clamp(a + b, lo, hi) }
    }

    struct FloatSub: BinaryOperation {
        let lo: Float, hi: Float
        @inline(__always) func apply(_ a: Float, _ b: Float) -> Float { CppMath.clamp(a - b, lo, hi) }
    }

    struct FloatMul: BinaryOperation {
        let lo: Float, hi: Float
        @inline(__always) func apply(_ a: Float, _ b: Float) -> Float { CppMath.clamp(a * b, lo, hi) }
    }

    /// Float DIV: division by zero is not an error; ±inf saturates to the activation range (±FLT_MAX).
    struct FloatDiv: BinaryOperation {
        let lo: Float, hi: Float
        @inline(__always) func apply(_ a: Float, _ b: Float) -> Float { CppMath.clamp(a / b, lo, hi) }
    }

    // MARK: Integer (unquantized)

    /// int32/int64 ADD with TFLite's wrapping arithmetic and integer activation clamp.
    struct IntegerAdd<T: FixedWidthInteger>: BinaryOperation {
        let lo: T, hi: T
        @inline(__always) func apply(_ a: T, _ b: T) -> T { CppMath.clamp(a &+ b, lo, hi) }
    }

    struct IntegerSub<T: FixedWidthInteger>: BinaryOperation {
        let lo: T, hi: T
        @inline(__always) func apply(_ a: T, _ b: T) -> T { CppMath.clamp(a &- b, lo, hi) }
    }

    struct IntegerMul<T: FixedWidthInteger>: BinaryOperation {
        let lo: T, hi: T
        @inline(__always) func apply(_ a: T, _ b: T) -> T { CppMath.clamp(a &* b, lo, hi) }
    }

    /// int32 DIV: C++ truncating division. A zero anywhere in the divisor fails the invocation, as LiteRT's
    /// `CheckNonZero`; `INT32_MIN / -1` (a crash in C++) wraps to `INT32_MIN`.
    struct IntegerDiv<T: FixedWidthInteger>: BinaryOperation {
        let lo: T, hi: T
        @inline(__always) func apply(_ a: T, _ b: T) -> T {
            CppMath.clamp(a.dividedReportingOverflow(by: b).partialValue, lo, hi)
        }
        func validate(denominator: UnsafePointer<T>, count: Int) throws {
            for i in 0..<count where denominator[i] == 0 { throw KernelError("division by zero") }
        }
    }

    // MARK: Quantized

    /// TFLite's 8-bit ADD/SUB rescaling (`AddElementwise`): both inputs are shifted left by 20 bits, scaled by
    /// their multipliers (built from `2 * max(scale1, scale2)`), combined, then scaled to the output.
    struct QuantizedAddParameters {
        var input1Offset: Int32, input2Offset: Int32, outputOffset: Int32
        var input1Multiplier: Int32, input1Shift: Int
        var input2Multiplier: Int32, input2Shift: Int
        var outputMultiplier: Int32, outputShift: Int
        var leftShift: Int
        var activationMin: Int32, activationMax: Int32

        @inline(__always) func scaled1(_ x: Int32) -> Int32 {
            TFLiteQuantization.multiplySmallerThanOne((input1Offset &+ x) &* (Int32(1) << Int32(leftShift)),
                                                      input1Multiplier, input1Shift)
        }
        @inline(__always) func scaled2(_ x: Int32) -> Int32 {
            TFLiteQuantization.multiplySmallerThanOne((input2Offset &+ x) &* (Int32(1) << Int32(leftShift)),
                                                      input2Multiplier, input2Shift)
        }
        @inline(__always) func output(_ raw: Int32) -> Int32 {
            let value = TFLiteQuantization.multiplySmallerThanOne(raw, outputMultiplier, outputShift) &+ outputOffset
            return min(activationMax, max(activationMin, value))
        }
    }

    struct QuantizedAdd<T: QuantizedElement>: BinaryOperation {
        let p: QuantizedAddParameters
        @inline(__always) func apply(_ a: T, _ b: T) -> T {
            T(truncatingIfNeeded: p.output(p.scaled1(Int32(a)) &+ p.scaled2(Int32(b))))
        }
    }

    /// ADD with XNNPACK's arithmetic (`Requantization.xnnpack`): each input times a multiplier of at most 21 bits,
    /// `round(scale_i / scale_out * 2^shift)` with `shift = 20 - exponent(max(scale_1, scale_2) / scale_out)`,
    /// summed with a bias that holds the zero points and the rounding constant `2^(shift-1)`, then one arithmetic
    /// right shift (rounding half up), plus the output zero point, clamped.
    struct ShiftedAddParameters {
        var bias: Int32, multiplier1: Int32, multiplier2: Int32, shift: Int32
        var outputOffset: Int32, activationMin: Int32, activationMax: Int32

        /// nil when a scale ratio lies outside [2^-10, 2^8), which XNNPACK does not take.
        init?(scale1: Float, zeroPoint1: Int32, scale2: Float, zeroPoint2: Int32, outputScale: Float,
              outputZeroPoint: Int32, activationMin: Int32, activationMax: Int32) {
            let ratio1 = scale1 / outputScale, ratio2 = scale2 / outputScale
            guard [ratio1, ratio2].allSatisfy({ $0 >= 0x1p-10 && $0 < 0x1p8 }) else { return nil }
            let shift = 20 - Int32(max(ratio1, ratio2).exponent)
            // ratio * 2^shift is exact (a power of two); lrintf's rounding, half to even.
            let scale = Float(sign: .plus, exponent: Int(shift), significand: 1)
            multiplier1 = Int32((ratio1 * scale).rounded(.toNearestOrEven))
            multiplier2 = Int32((ratio2 * scale).rounded(.toNearestOrEven))
            self.shift = shift
            bias = (Int32(1) << (shift - 1)) &- multiplier1 &* zeroPoint1 &- multiplier2 &* zeroPoint2
            outputOffset = outputZeroPoint
            self.activationMin = activationMin
            self.activationMax = activationMax
        }
    }

    struct ShiftedAdd<T: QuantizedElement>: BinaryOperation {
        let p: ShiftedAddParameters
        @inline(__always) func apply(_ a: T, _ b: T) -> T {
            let sum = p.bias &+ Int32(a) &* p.multiplier1 &+ Int32(b) &* p.multiplier2
            let value = (sum >> p.shift) &+ p.outputOffset
            return T(truncatingIfNeeded: min(p.activationMax, max(p.activationMin, value)))
        }
    }

    struct QuantizedSub<T: QuantizedElement>: BinaryOperation {
        let p: QuantizedAddParameters
        @inline(__always) func apply(_ a: T, _ b: T) -> T {
            T(truncatingIfNeeded: p.output(p.scaled1(Int32(a)) &- p.scaled2(Int32(b))))
        }
    }

    /// Offsets, single output multiplier and clamp of quantized MUL and DIV.
    struct QuantizedProductParameters {
        var input1Offset: Int32, input2Offset: Int32, outputOffset: Int32
        var outputMultiplier: Int32, outputShift: Int
        var activationMin: Int32, activationMax: Int32
    }

    /// TFLite's quantized `MulElementwise`: `(x1 - zp1) * (x2 - zp2)` requantized by one multiplier
    /// `scale1 * scale2 / scaleOut`.
    struct QuantizedMul<T: QuantizedElement>: BinaryOperation {
        let p: QuantizedProductParameters
        @inline(__always) func apply(_ a: T, _ b: T) -> T {
            let product = (p.input1Offset &+ Int32(a)) &* (p.input2Offset &+ Int32(b))
            let value = p.outputOffset &+ QuantizedArithmetic.multiplyByQuantizedMultiplier(product, p.outputMultiplier,
                                                                                            p.outputShift)
            return T(truncatingIfNeeded: min(p.activationMax, max(p.activationMin, value)))
        }
    }

    /// TFLite's quantized `DivElementwise`: the divisor's reciprocal by `GetReciprocal`, the numerator normalised by
    /// its headroom, then one rescale by `scale1 / (scale2 * scaleOut)`. A divisor equal to its zero point anywhere
    /// fails the invocation (LiteRT's `CheckNonZero`).
    struct QuantizedDiv<T: QuantizedElement>: BinaryOperation {
        let p: QuantizedProductParameters
        let divisorZeroPoint: T
        @inline(__always) func apply(_ a: T, _ b: T) -> T {
            var numerator = p.input1Offset &+ Int32(a)
            var denominator = p.input2Offset &+ Int32(b)
            if denominator < 0 {
                numerator = 0 &- numerator
                denominator = 0 &- denominator
            }
            let (reciprocal, reciprocalShift) = Gemmlowp.reciprocal(denominator, integerDigits: 31)
            let headroom = CppMath.countLeadingSignBits(numerator)
            let unscaled = TFLiteQuantization.multiplyGreaterThanOne(numerator, reciprocal, headroom)
            let totalShift = p.outputShift - reciprocalShift - headroom
            let value = p.outputOffset &+ TFLiteQuantization.multiplySmallerThanOne(unscaled, p.outputMultiplier,
                                                                                   totalShift)
            return T(truncatingIfNeeded: min(p.activationMax, max(p.activationMin, value)))
        }
        func validate(denominator: UnsafePointer<T>, count: Int) throws {
            for i in 0..<count where denominator[i] == divisorZeroPoint {
                throw KernelError("division by zero (divisor element \(i) equals its zero point)")
            }
        }
    }

    // MARK: FLOOR_DIV

    /// TFLite's `FloorDiv<T>` for integers: `floor(double(a) / double(b))` converted back as C++ does on x86-64.
    struct IntegerFloorDiv<T: FixedWidthInteger>: BinaryOperation {
        @inline(__always) func apply(_ a: T, _ b: T) -> T {
            CppMath.narrow((Double(a) / Double(b)).rounded(.down), as: T.self)
        }
        func validate(denominator: UnsafePointer<T>, count: Int) throws {
            for i in 0..<count where denominator[i] == 0 { throw KernelError("division by zero") }
        }
    }

    /// TFLite's `FloorDiv<float>`: the quotient and floor in double precision, rounded back to float.
    struct FloatFloorDiv: BinaryOperation {
        @inline(__always) func apply(_ a: Float, _ b: Float) -> Float {
            Float((Double(a) / Double(b)).rounded(.down))
        }
        func validate(denominator: UnsafePointer<Float>, count: Int) throws {
            for i in 0..<count where denominator[i] == 0 { throw KernelError("division by zero") }
        }
    }

    // MARK: Prepare

    /// Tensor indices and broadcast plan of a binary operator, to build its kernel once the operation is chosen.
    struct BinaryWiring {
        let shape: BroadcastShape
        let input1: Int, input2: Int, output: Int, input2Count: Int
        func kernel<Op: BinaryOperation>(_ op: Op) -> Kernel {
            binaryKernel(op, shape: shape, input1: input1, input2: input2, output: output, input2Count: input2Count)
        }
    }

    /// The four arithmetic builtins with fused activations.
    enum ArithmeticKind: String {
        case add = "ADD", sub = "SUB", mul = "MUL", div = "DIV"
    }

    /// Validates a two-input arithmetic operator, sets its (broadcast) output shape and returns its kernel.
    static func prepareArithmetic(_ kind: ArithmeticKind, _ context: inout PrepareContext) throws -> Kernel {
        try context.requireCounts(inputs: 2...2, outputs: 1)
        let x = try context.input(0), y = try context.input(1), out = try context.output(0)
        try context.require(x.type == y.type, "input types differ: \(x.type) and \(y.type)")
        try context.require(out.type == x.type, "output type \(out.type) differs from input type \(x.type)")
        let supported: [TensorType]
        switch kind {
        case .add, .sub: supported = [.float32, .int32, .int64, .uint8, .int8]
        case .mul: supported = [.float32, .int32, .int64, .uint8, .int8]
        case .div: supported = [.float32, .int32, .uint8, .int8]
        }
        try requireType(x, in: supported, "\(kind.rawValue) input", context)
        let activation = try arithmeticActivation(context)
        let shape = try BroadcastShape(x.shape, y.shape)
        try context.setOutputShape(0, shape.output)
        let wiring = BinaryWiring(shape: shape, input1: context.op.inputs[0], input2: context.op.inputs[1],
                                  output: try context.outputIndex(0), input2Count: y.elementCount)
        func make<Op: BinaryOperation>(_ op: Op) -> Kernel { wiring.kernel(op) }

        switch x.type {
        case .float32:
            let (lo, hi) = QuantizedArithmetic.activationRange(activation)
            switch kind {
            case .add: return make(FloatAdd(lo: lo, hi: hi))
            case .sub: return make(FloatSub(lo: lo, hi: hi))
            case .mul: return make(FloatMul(lo: lo, hi: hi))
            case .div: return make(FloatDiv(lo: lo, hi: hi))
            }
        case .int32:
            let (lo, hi) = TFLiteQuantization.integerActivationRange(activation, as: Int32.self)
            switch kind {
            case .add: return make(IntegerAdd<Int32>(lo: lo, hi: hi))
            case .sub: return make(IntegerSub<Int32>(lo: lo, hi: hi))
            case .mul: return make(IntegerMul<Int32>(lo: lo, hi: hi))
            case .div: return make(IntegerDiv<Int32>(lo: lo, hi: hi))
            }
        case .int64:
            let (lo, hi) = TFLiteQuantization.integerActivationRange(activation, as: Int64.self)
            switch kind {
            case .add: return make(IntegerAdd<Int64>(lo: lo, hi: hi))
            case .sub: return make(IntegerSub<Int64>(lo: lo, hi: hi))
            case .mul: return make(IntegerMul<Int64>(lo: lo, hi: hi))
            case .div: throw KernelError("DIV input type int64 is not supported")
            }
        case .uint8:
            return try prepareQuantizedArithmetic(kind, UInt8.self, activation, x, y, out, context, wiring)
        case .int8:
            return try prepareQuantizedArithmetic(kind, Int8.self, activation, x, y, out, context, wiring)
        default:
            throw KernelError("\(kind.rawValue) input type \(x.type) is not supported")
        }
    }

    private static func prepareQuantizedArithmetic<T: QuantizedElement>(
        _ kind: ArithmeticKind, _: T.Type, _ activation: FusedActivationKind,
        _ x: TensorInfo, _ y: TensorInfo, _ out: TensorInfo, _ context: PrepareContext,
        _ wiring: BinaryWiring
    ) throws -> Kernel {
        func make<Op: BinaryOperation>(_ op: Op) -> Kernel { wiring.kernel(op) }
        for (t, role) in [(x, "input 1"), (y, "input 2"), (out, "output")] {
            try TFLiteQuantization.requirePerTensor(t, role, context)
            try TFLiteQuantization.requireZeroPoint(t, role, as: T.self, context)
        }
        let (actMin, actMax) = TFLiteQuantization.activationRange(activation, scale: out.scale,
                                                                  zeroPoint: out.zeroPoint, as: T.self)
        switch kind {
        case .add, .sub:
            // add.cc / sub.cc Prepare: left shift 20, input multipliers relative to twice the larger input scale.
            let leftShift = 20
            let twiceMaxInputScale = 2 * Double(max(x.scale, y.scale))
            let real1 = Double(x.scale) / twiceMaxInputScale
            let real2 = Double(y.scale) / twiceMaxInputScale
            let realOut = twiceMaxInputScale / (Double(1 << leftShift) * Double(out.scale))
            try context.require(realOut < 1,
                                "output scale \(out.scale) is too small for input scales \(x.scale) and \(y.scale) (rescale factor \(realOut) must be below 1)")
            let m1 = TFLiteQuantization.quantizeMultiplier(real1)
            let m2 = TFLiteQuantization.quantizeMultiplier(real2)
            let mo = TFLiteQuantization.quantizeMultiplier(realOut)
            let p = QuantizedAddParameters(
                input1Offset: -x.zeroPoint, input2Offset: -y.zeroPoint, outputOffset: out.zeroPoint,
                input1Multiplier: m1.multiplier, input1Shift: m1.shift,
                input2Multiplier: m2.multiplier, input2Shift: m2.shift,
                outputMultiplier: mo.multiplier, outputShift: mo.shift,
                leftShift: leftShift, activationMin: actMin, activationMax: actMax)
            if kind == .add, context.requantization == .xnnpack, let shifted = ShiftedAddParameters(
                scale1: x.scale, zeroPoint1: x.zeroPoint, scale2: y.scale, zeroPoint2: y.zeroPoint,
                outputScale: out.scale, outputZeroPoint: out.zeroPoint, activationMin: actMin, activationMax: actMax) {
                if context.kernels == .optimized,
                   let fast = QuantizedElementwise.shiftedAdd(T.self, shifted, wiring, pool: context.pool) {
                    return fast
                }
                return make(ShiftedAdd<T>(p: shifted))
            }
            if context.kernels == .optimized, let fast = QuantizedElementwise.addSub(kind, T.self, p, wiring, pool: context.pool) { return fast }
            return kind == .add ? make(QuantizedAdd<T>(p: p)) : make(QuantizedSub<T>(p: p))
        case .mul, .div:
            // mul.cc / div.cc compute the real multiplier in float arithmetic.
            let real = kind == .mul
                ? Double(x.scale * y.scale / out.scale)
                : Double(x.scale / (y.scale * out.scale))
            let m = TFLiteQuantization.quantizeMultiplier(real)
            try context.require(m.shift <= 30, "rescale factor \(real) of quantized \(kind.rawValue) is too large")
            let p = QuantizedProductParameters(
                input1Offset: -x.zeroPoint, input2Offset: -y.zeroPoint, outputOffset: out.zeroPoint,
                outputMultiplier: m.multiplier, outputShift: m.shift,
                activationMin: actMin, activationMax: actMax)
            return kind == .mul
                ? make(QuantizedMul<T>(p: p))
                : make(QuantizedDiv<T>(p: p, divisorZeroPoint: T(truncatingIfNeeded: y.zeroPoint)))
        }
    }
}
