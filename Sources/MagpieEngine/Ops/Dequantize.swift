import MagpieModel

/// DEQUANTIZE to float32, following LiteRT's reference `dequantize.cc`: uint8/int8/int16 per tensor compute
/// `float(double(scale) * (q - zeroPoint))` (int16 needs zero point 0, as LiteRT 2.3.0 checks); uint8/int8 per channel compute `scale[c] * float(q - zeroPoint[c])` in
/// float; float16 is widened exactly.
enum Dequantize {
    struct AffineOperation<In: FixedWidthInteger>: Elementwise.UnaryOperation {
        let scale: Double, zeroPoint: Int32
        @inline(__always) func apply(_ x: In) -> Float { Float(scale * Double(Int32(x) - zeroPoint)) }
    }

    /// IEEE binary16 bits to float (exact), without relying on the platform's `Float16`.
    struct HalfOperation: Elementwise.UnaryOperation {
        @inline(__always) func apply(_ h: UInt16) -> Float {
            let sign = UInt32(h & 0x8000) << 16
            let exponent = Int((h >> 10) & 0x1F)
            let mantissa = UInt32(h & 0x3FF)
            if exponent == 0x1F {
                return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
            }
            if exponent == 0 {
                // Zero or subnormal: mantissa * 2^-24, exact in float.
                let magnitude = Float(mantissa) * Float(sign: .plus, exponent: -24, significand: 1)
                return sign != 0 ? -magnitude : magnitude
            }
            return Float(bitPattern: sign | UInt32(exponent - 15 + 127) << 23 | (mantissa << 13))
        }
    }

    /// `PerChannelDequantize`: each element uses the scale and zero point of its index along the quantized axis.
    static func perChannelKernel<In: FixedWidthInteger>(_: In.Type, scales: [Float], zeroPoints: [Int32],
                                                        input: Int, output: Int, count: Int, channels: Int,
                                                        inner: Int) -> Kernel {
        ClosureKernel { t in
            let x = t.pointer(input, as: In.self), y = t.pointer(output, as: Float.self)
            for i in 0..<count {
                let c = (i / inner) % channels
                y[i] = scales[c] * Float(Int32(x[i]) - zeroPoints[c])
            }
        }
    }

    static let registration = OperatorRegistration(.dequantize) { context in
        try context.requireCounts(inputs: 1...1, outputs: 1)
        let x = try context.input(0), out = try context.output(0)
        try context.require(out.type == .float32, "output type must be float32, got \(out.type)")
        try Elementwise.requireType(x, in: [.uint8, .int8, .int16, .float16], "DEQUANTIZE input", context)
        try context.setOutputShape(0, x.shape)
        let input = context.op.inputs[0], output = try context.outputIndex(0), count = x.elementCount
        if x.type == .float16 {
            return Elementwise.unaryKernel(HalfOperation(), input: input, output: output, count: count)
        }
        guard let q = x.quantization, !q.scales.isEmpty else {
            throw KernelError("input tensor '\(x.name)' of type \(x.type) has no quantization parameters")
        }
        if q.isPerChannel {
            try context.require(x.type != .int16, "per-channel dequantization of int16 is not supported")
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
            if x.type == .uint8 {
                return perChannelKernel(UInt8.self, scales: q.scales, zeroPoints: zeroPoints, input: input,
                                        output: output, count: count, channels: channels, inner: inner)
            }
            return perChannelKernel(Int8.self, scales: q.scales, zeroPoints: zeroPoints, input: input,
                                    output: output, count: count, channels: channels, inner: inner)
        }
        let scale = Double(x.scale), zp = x.zeroPoint
        if x.type == .int16 { try context.require(zp == 0, "int16 input zero point must be 0, got \(zp)") }
        switch x.type {
        case .uint8:
            return Elementwise.unaryKernel(AffineOperation<UInt8>(scale: scale, zeroPoint: zp), input: input, output: output, count: count)
        case .int8:
            return Elementwise.unaryKernel(AffineOperation<Int8>(scale: scale, zeroPoint: zp), input: input, output: output, count: count)
        default:
            return Elementwise.unaryKernel(AffineOperation<Int16>(scale: scale, zeroPoint: zp), input: input, output: output, count: count)
        }
    }
}
