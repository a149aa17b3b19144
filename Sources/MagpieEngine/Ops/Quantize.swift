import MagpieModel

/// QUANTIZE, following LiteRT's reference `quantize.cc`:
///
/// - float32 → uint8/int8/int16: `(int32)round(x / scale) + zeroPoint` — the quotient and rounding (half away from
///   zero) in float, the conversion as C++ on x86-64 (NaN and out-of-range give INT32_MIN) and a wrapping int32
///   add — clamped to the type (`AffineQuantize`, as LiteRT 2.3.0 ships it: +1e20 quantizes to the type's minimum);
///   per-channel output quantization is supported (`PerChannelQuantize`).
/// - requantization uint8/int8 → uint8/int8, int16 → int8/int16/int32 and int32 → int8/int16: `Requantize` with the
///   double-rounding multiplier of `inputScale / outputScale` (computed in double), offset and clamped.
enum Quantize {
    /// One element of `AffineQuantize`/`PerChannelQuantize`.
    @inline(__always)
    static func quantize<Out: FixedWidthInteger>(_ x: Float, scale: Float, zeroPoint: Int32, as _: Out.Type) -> Out {
        let unclamped = Elementwise.CppMath.int32(Elementwise.CppMath.round(x / scale)) &+ zeroPoint
        return Out(truncatingIfNeeded: min(max(unclamped, Int32(Out.min)), Int32(Out.max)))
    }

    struct AffineOperation<Out: FixedWidthInteger>: Elementwise.UnaryOperation {
        let scale: Float, zeroPoint: Int32
        @inline(__always) func apply(_ x: Float) -> Out { quantize(x, scale: scale, zeroPoint: zeroPoint, as: Out.self) }
    }

    struct RequantizeOperation<In: FixedWidthInteger, Out: FixedWidthInteger>: Elementwise.UnaryOperation {
        let inputZeroPoint: Int32, outputZeroPoint: Int32
        let multiplier: Int32, shift: Int
        @inline(__always) func apply(_ x: In) -> Out {
            let value = QuantizedArithmetic.multiplyByQuantizedMultiplier(Int32(truncatingIfNeeded: x) &- inputZeroPoint,
                                                                          multiplier, shift) &+ outputZeroPoint
            return Out(truncatingIfNeeded: max(min(Int64(value), Int64(Out.max)), Int64(Out.min)))
        }
    }

    /// `PerChannelQuantize`: each element uses the scale and zero point of its index along the quantized axis.
    static func perChannelKernel<Out: FixedWidthInteger>(_: Out.Type, scales: [Float], zeroPoints: [Int32],
                                                         input: Int, output: Int, count: Int, channels: Int,
                                                         inner: Int) -> Kernel {
        ClosureKernel { t in
            let x = t.pointer(input, as: Float.self), y = t.pointer(output, as: Out.self)
            for i in 0..<count {
                let c = (i / inner) % channels
                y[i] = quantize(x[i], scale: scales[c], zeroPoint: zeroPoints[c], as: Out.self)
            }
        }
    }

    static let registration = OperatorRegistration(.quantize) { context in
        try context.requireCounts(inputs: 1...1, outputs: 1)
        let x = try context.input(0), out = try context.output(0)
        guard let q = out.quantization, !q.scales.isEmpty else {
            throw KernelError("output tensor '\(out.name)' has no quantization parameters")
        }
        try context.setOutputShape(0, x.shape)
        let input = context.op.inputs[0], output = try context.outputIndex(0), count = x.elementCount

        if x.type == .float32 {
            try Elementwise.requireType(out, in: [.uint8, .int8, .int16], "QUANTIZE output", context)
            try context.require(q.scales.allSatisfy { $0 > 0 && $0.isFinite }, "output has an invalid scale")
            if q.isPerChannel {
                let axis = q.quantizedDimension
                try context.require(axis >= 0 && axis < x.rank, "quantized dimension \(axis) is out of range for rank \(x.rank)")
                let channels = x.shape[axis]
                try context.require(q.scales.count == channels, "\(q.scales.count) scales for \(channels) channels")
                try context.require(q.zeroPoints.count == channels || q.zeroPoints.count == 1,
                                    "\(q.zeroPoints.count) zero points for \(channels) channels")
                let zeroPoints = (0..<channels).map {
                    Int32(truncatingIfNeeded: q.zeroPoints.count == 1 ? q.zeroPoints[0] : q.zeroPoints[$0])
                }
                let inner = x.shape[(axis + 1)...].reduce(1, *)
                func make<Out: FixedWidthInteger>(_: Out.Type) -> Kernel {
                    perChannelKernel(Out.self, scales: q.scales, zeroPoints: zeroPoints, input: input, output: output,
                                     count: count, channels: channels, inner: inner)
                }
                switch out.type {
                case .uint8: return make(UInt8.self)
                case .int8: return make(Int8.self)
                default: return make(Int16.self)
                }
            }
            let scale = out.scale, zp = out.zeroPoint
            switch out.type {
            case .uint8:
                return Elementwise.unaryKernel(AffineOperation<UInt8>(scale: scale, zeroPoint: zp), input: input, output: output, count: count)
            case .int8:
                return Elementwise.unaryKernel(AffineOperation<Int8>(scale: scale, zeroPoint: zp), input: input, output: output, count: count)
            default:
                return Elementwise.unaryKernel(AffineOperation<Int16>(scale: scale, zeroPoint: zp), input: input, output: output, count: count)
            }
        }

        // Requantization.
        let allowed: [TensorType]
        switch x.type {
        case .uint8, .int8: allowed = [.uint8, .int8]
        case .int16: allowed = [.int8, .int16, .int32]
        case .int32: allowed = [.int8, .int16]
        default: throw KernelError("input type \(x.type) is not supported (supported: float32, uint8, int8, int16, int32)")
        }
        try context.require(allowed.contains(out.type), "input type \(x.type) with output type \(out.type) is not supported")
        try Elementwise.TFLiteQuantization.requirePerTensor(x, "input", context)
        try Elementwise.TFLiteQuantization.requirePerTensor(out, "output", context)
        if x.type == .int16 && out.type == .int16 {
            try context.require(x.zeroPoint == 0 && out.zeroPoint == 0, "int16 requantization needs zero points of 0")
        }
        let m = Elementwise.TFLiteQuantization.quantizeMultiplier(Double(x.scale) / Double(out.scale))
        try context.require(m.shift <= 30, "input scale \(x.scale) is too large for output scale \(out.scale)")
        func make<In: FixedWidthInteger, Out: FixedWidthInteger>(_: In.Type, _: Out.Type) -> Kernel {
            let op = RequantizeOperation<In, Out>(inputZeroPoint: x.zeroPoint, outputZeroPoint: out.zeroPoint,
                                                  multiplier: m.multiplier, shift: m.shift)
            if context.kernels == .optimized, let fast = QuantizedElementwise.lookupTable(op, input: input, output: output, count: count, &context) { return fast }
            return Elementwise.unaryKernel(op, input: input, output: output, count: count)
        }
        switch (x.type, out.type) {
        case (.uint8, .uint8): return make(UInt8.self, UInt8.self)
        case (.uint8, .int8): return make(UInt8.self, Int8.self)
        case (.int8, .uint8): return make(Int8.self, UInt8.self)
        case (.int8, .int8): return make(Int8.self, Int8.self)
        case (.int16, .int8): return make(Int16.self, Int8.self)
        case (.int16, .int16): return make(Int16.self, Int16.self)
        case (.int16, .int32): return make(Int16.self, Int32.self)
        case (.int32, .int8): return make(Int32.self, Int8.self)
        default: return make(Int32.self, Int16.self)
        }
    }
}
