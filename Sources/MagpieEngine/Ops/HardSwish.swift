import MagpieModel

/// HARD_SWISH: `x * relu6(x + 3) / 6`, following LiteRT's `reference_ops::HardSwish`: float32 in float
/// arithmetic; uint8/int8 in TFLite's 16-bit fixed point (input on a 2^-7 "hires" scale, a "reluish" multiplier
/// mapping [-3, 3] to [0, 1], a truncating doubling high multiply and the output multiplier, as prepared by
/// `HardSwishPrepare`).
enum HardSwish {
    struct FloatOperation: Elementwise.UnaryOperation {
        @inline(__always) func apply(_ x: Float) -> Float {
            let shifted = x + 3
            let low = 0 < shifted ? shifted : 0     // std::max(0, x + 3)
            let relu6 = low < 6 ? low : 6           // std::min(6, low)
            return x * relu6 / 6
        }
    }

    /// TFLite's `HardSwishParams`.
    struct Parameters {
        var inputZeroPoint: Int16, outputZeroPoint: Int16
        var reluishMultiplier: Int16, reluishExponent: Int
        var outputMultiplier: Int16, outputExponent: Int
    }

    struct QuantizedOperation<T: Elementwise.QuantizedElement>: Elementwise.UnaryOperation {
        let p: Parameters

        @inline(__always) func apply(_ x: T) -> T {
            let inputValue = Int16(truncatingIfNeeded: Int32(x) - Int32(p.inputZeroPoint))
            let hires = Int16(truncatingIfNeeded: Int32(inputValue) * (1 << 7))
            let preshiftOutput = Fixed16.srdhm(hires, p.outputMultiplier)
            var reluish = hires
            if p.reluishExponent > 0 { reluish = Fixed16.saturatingLeftShift(reluish, p.reluishExponent - 1) }
            reluish = Fixed16.srdhm(reluish, p.reluishMultiplier)
            if p.reluishExponent > 0 { reluish = Fixed16.saturatingLeftShift(reluish, 1) }
            if p.reluishExponent < 0 { reluish = Fixed16.roundingDivideByPOT(reluish, -p.reluishExponent) }
            reluish = Int16(truncatingIfNeeded: (Int32(reluish) + (1 << 15)) >> 1)
            let preshift = Fixed16.doublingHighMul(reluish, preshiftOutput)
            var value = Int32(Fixed16.roundingDivideByPOT(preshift, -p.outputExponent))
            value = Int32(Int16(truncatingIfNeeded: value + Int32(p.outputZeroPoint)))
            return T(truncatingIfNeeded: min(max(value, Int32(T.min)), Int32(T.max)))
        }
    }

    /// gemmlowp's int16 primitives as the hard-swish reference uses them.
    enum Fixed16 {
        /// `SaturatingRoundingDoublingHighMul` for int16.
        @inline(__always) static func srdhm(_ a: Int16, _ b: Int16) -> Int16 {
            if a == b && a == Int16.min { return Int16.max }
            let ab = Int32(a) * Int32(b)
            let nudge: Int32 = ab >= 0 ? (1 << 14) : (1 - (1 << 14))
            return Int16(truncatingIfNeeded: (ab + nudge) / (1 << 15))
        }

        /// `SaturatingDoublingHighMul`: like `srdhm` but truncating toward zero.
        @inline(__always) static func doublingHighMul(_ a: Int16, _ b: Int16) -> Int16 {
            if a == b && a == Int16.min { return Int16.max }
            return Int16(truncatingIfNeeded: (Int32(a) * Int32(b)) / (1 << 15))
        }

        /// `SaturatingLeftShift`: `value * 2^amount` saturated to int16.
        @inline(__always) static func saturatingLeftShift(_ value: Int16, _ amount: Int) -> Int16 {
            let result = Int64(value) &* (Int64(1) << Int64(amount))
            return Int16(min(max(result, Int64(Int16.min)), Int64(Int16.max)))
        }

        /// gemmlowp's `RoundingDivideByPOT` on int16 (mask and threshold in int16, shift on the promoted int).
        @inline(__always) static func roundingDivideByPOT(_ x: Int16, _ exponent: Int) -> Int16 {
            let mask = Int16(truncatingIfNeeded: (Int64(1) << Int64(exponent)) - 1)
            let remainder = x & mask
            let threshold = Int16(truncatingIfNeeded: Int32(mask >> 1) + (x < 0 ? 1 : 0))
            return Int16(truncatingIfNeeded: (Int32(x) >> Int32(exponent)) + (remainder > threshold ? 1 : 0))
        }
    }

    /// `DownScaleInt32ToInt16Multiplier`.
    static func downScale(_ multiplier: Int32) -> Int16 {
        let rounding: Int32 = 1 << 15
        if multiplier >= Int32.max - rounding { return Int16.max }
        return Int16(truncatingIfNeeded: (multiplier + rounding) >> 16)
    }

    static let registration = OperatorRegistration(.hardSwish) { context in
        try context.requireCounts(inputs: 1...1, outputs: 1)
        let x = try context.input(0), out = try context.output(0)
        try context.require(x.type == out.type, "output type \(out.type) differs from input type \(x.type)")
        try Elementwise.requireType(x, in: [.float32, .uint8, .int8], "HARD_SWISH input", context)
        try context.setOutputShape(0, x.shape)
        let input = context.op.inputs[0], output = try context.outputIndex(0), count = x.elementCount
        if x.type == .float32 {
            return Elementwise.unaryKernel(FloatOperation(), input: input, output: output, count: count)
        }
        try Elementwise.TFLiteQuantization.requirePerTensor(x, "input", context)
        try Elementwise.TFLiteQuantization.requirePerTensor(out, "output", context)
        // HardSwishPrepare, in float as TFLite computes it.
        let hiresInputScale = (1.0 as Float / 128) * x.scale
        let reluishScale: Float = 3.0 / 32768
        let outputMultiplier = Elementwise.TFLiteQuantization.quantizeMultiplier(Double(hiresInputScale / out.scale))
        try context.require(outputMultiplier.shift <= 0,
                            "output scale \(out.scale) is too small for input scale \(x.scale) (output multiplier exponent must not be positive)")
        let reluishMultiplier = Elementwise.TFLiteQuantization.quantizeMultiplier(Double(hiresInputScale / reluishScale))
        try context.require(reluishMultiplier.shift <= 30, "input scale \(x.scale) is too large")
        let p = Parameters(inputZeroPoint: Int16(truncatingIfNeeded: x.zeroPoint),
                           outputZeroPoint: Int16(truncatingIfNeeded: out.zeroPoint),
                           reluishMultiplier: downScale(reluishMultiplier.multiplier),
                           reluishExponent: reluishMultiplier.shift,
                           outputMultiplier: downScale(outputMultiplier.multiplier),
                           outputExponent: outputMultiplier.shift)
        func make<T: Elementwise.QuantizedElement>(_: T.Type) throws -> Kernel {
            try Elementwise.TFLiteQuantization.requireZeroPoint(x, "input", as: T.self, context)
            try Elementwise.TFLiteQuantization.requireZeroPoint(out, "output", as: T.self, context)
            let op = QuantizedOperation<T>(p: p)
            if context.kernels == .optimized, let fast = QuantizedElementwise.lookupTable(op, input: input, output: output, count: count, &context) { return fast }
            return Elementwise.unaryKernel(op, input: input, output: output, count: count)
        }
        return x.type == .uint8 ? try make(UInt8.self) : try make(Int8.self)
    }
}
