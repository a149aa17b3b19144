import CMagpieKernels
import Foundation
import MagpieModel

/// SOFTMAX over the last dimension, following LiteRT's reference kernel (`activations.cc`, `SoftmaxPrepare<kReference>`
/// and `reference_ops::Softmax`):
///
/// - float32: `exp((x - max) * beta)` with `expf`, summed in float in order, each divided by the sum.
/// - uint8/int8 input with uint8/int8/int16 output: gemmlowp fixed point. `beta * inputScale` becomes a Q5.26
///   multiplier (`PreprocessSoftmaxScaling`, `kScaledDiffIntegerBits = 5`); differences below `diff_min` are
///   dropped; `exp_on_negative_values` values are summed in Q12.19, inverted with `GetReciprocal` and the result
///   written on the fixed output grid 1/256 (1/65536 for int16) offset by the type's minimum — the output
///   tensor's own scale and zero point are not used (int8 output must declare 1/256 and -128, as LiteRT checks).
enum Softmax {
    static let registration = OperatorRegistration(.softmax) { context in
        try context.requireCounts(inputs: 1...1, outputs: 1)
        let x = try context.input(0), out = try context.output(0)
        try context.require(x.rank >= 1, "input must have at least one dimension")
        var beta: Float = 0
        if case let .softmax(b) = context.op.options { beta = b }
        try context.setOutputShape(0, x.shape)
        let depth = x.shape.last!
        let outer = depth == 0 ? 0 : x.elementCount / depth
        let input = context.op.inputs[0], output = try context.outputIndex(0)
        switch (x.type, out.type) {
        case (.float32, .float32):
            if context.kernels == .optimized && mq5_cpu_supported() != 0 {
                return VectorFloatKernel(beta: beta, input: input, output: output, outer: outer, depth: depth)
            }
            return FloatKernel(beta: beta, input: input, output: output, outer: outer, depth: depth)
        case (.uint8, .uint8):
            return try quantized(UInt8.self, UInt8.self, x, out, beta, input, output, outer, depth, &context)
        case (.uint8, .int16):
            return try quantized(UInt8.self, Int16.self, x, out, beta, input, output, outer, depth, &context)
        case (.int8, .int8):
            return try quantized(Int8.self, Int8.self, x, out, beta, input, output, outer, depth, &context)
        case (.int8, .int16):
            return try quantized(Int8.self, Int16.self, x, out, beta, input, output, outer, depth, &context)
        default:
            throw KernelError("input type \(x.type) with output type \(out.type) is not supported (supported: float32→float32, uint8→uint8/int16, int8→int8/int16)")
        }
    }

    private static func quantized<In: Elementwise.QuantizedElement, Out: Elementwise.QuantizedElement>(
        _: In.Type, _: Out.Type, _ x: TensorInfo, _ out: TensorInfo, _ beta: Float,
        _ input: Int, _ output: Int, _ outer: Int, _ depth: Int, _ context: inout PrepareContext
    ) throws -> Kernel {
        try Elementwise.TFLiteQuantization.requirePerTensor(x, "input", context)
        if In.self == Int8.self && Out.self == Int8.self {
            try context.require(out.zeroPoint == -128, "int8 output zero point must be -128, got \(out.zeroPoint)")
            try context.require(abs(out.scale - 1 / 256) <= 0.001 / 256, "int8 output scale must be 1/256, got \(out.scale)")
        }
        // PreprocessSoftmaxScaling: min(beta * scale * 2^(31 - 5), 2^31 - 1), which must exceed 1
        // (QuantizeMultiplierGreaterThanOne aborts otherwise).
        let scaledDiffIntegerBits = 5
        let real = min(Double(beta) * Double(x.scale) * Double(1 << (31 - scaledDiffIntegerBits)),
                       Double((Int64(1) << 31) - 1))
        try context.require(real > 1, "beta * input scale (\(beta) * \(x.scale)) is too small for the quantized softmax")
        let (multiplier, leftShift) = Elementwise.TFLiteQuantization.quantizeMultiplier(real)
        // CalculateInputRadius(5, shift, 31): floor((2^5 - 1) * 2^26 / 2^shift).
        let radius = (Double((1 << scaledDiffIntegerBits) - 1) * Double(Int64(1) << (31 - scaledDiffIntegerBits))
                      / Double(Int64(1) << leftShift)).rounded(.down)
        let op = QuantizedOperation<In, Out>(multiplier: multiplier, leftShift: leftShift, diffMin: -Int32(radius),
                                             outer: outer, depth: depth,
                                             rowTable: context.allocate(Out.self, count: 256))
        return ClosureKernel { t in try op.run(t.pointer(input, as: In.self), t.pointer(output, as: Out.self)) }
    }

    /// `reference_ops::Softmax<float>`.
    final class FloatKernel: Kernel {
        let beta: Float
        let input: Int, output: Int, outer: Int, depth: Int

        init(beta: Float, input: Int, output: Int, outer: Int, depth: Int) {
            self.beta = beta
            self.input = input
            self.output = output
            self.outer = outer
            self.depth = depth
        }

        func invoke(_ t: TensorBuffers) throws {
            let x = t.pointer(input, as: Float.self), y = t.pointer(output, as: Float.self)
            for row in 0..<outer {
                let base = row * depth
                var largest = -Float.greatestFiniteMagnitude
                for c in 0..<depth where largest < x[base + c] { largest = x[base + c] }
                var sum: Float = 0
                for c in 0..<depth {
                    let e = expf((x[base + c] - largest) * beta)
                    y[base + c] = e
                    sum += e
                }
                for c in 0..<depth { y[base + c] = y[base + c] / sum }
            }
        }
    }

    /// The optimized float32 softmax on AVX-512 (`mf_softmax_rows`): the reference's steps with 16 lanes, exp by a
    /// polynomial (within about 2e-7 relative of expf) and the sum in 16 partial sums: within 1e-5 of the reference,
    /// relative to the row's largest output. MobileNetV2's 1001 classes (model profile, one thread): 4.1-4.4 → 0.30 us.
    final class VectorFloatKernel: Kernel {
        let beta: Float
        let input: Int, output: Int, outer: Int, depth: Int

        init(beta: Float, input: Int, output: Int, outer: Int, depth: Int) {
            self.beta = beta; self.input = input; self.output = output; self.outer = outer; self.depth = depth
        }

        func invoke(_ t: TensorBuffers) throws {
            mf_softmax_rows(t.pointer(input, as: Float.self), t.pointer(output, as: Float.self), Int32(outer),
                            Int32(depth), beta)
        }
    }

    /// The quantized reference softmax (gemmlowp fixed point) over `outer` rows of `depth` elements.
    ///
    /// With 8-bit input the difference `x - max` takes only the 256 values 0, -1, ..., -255, so its exponential
    /// (Q0.31) and that value's Q12.19 share of the sum are computed once at prepare, by the same fixed-point
    /// functions, and looked up per element: the bytes are the reference's, at a table lookup per element instead
    /// of two fixed-point exponentials. A row longer than 256 elements (a classifier's 1001) also computes its 256
    /// possible outputs first and looks each element's up (the reference's expression, evaluated once per value).
    struct QuantizedOperation<In: Elementwise.QuantizedElement, Out: Elementwise.QuantizedElement> {
        let outer: Int, depth: Int
        /// Scratch for one row's outputs by difference (256 entries).
        let rowTable: UnsafeMutablePointer<Out>
        /// exp(-d * beta * scale) in Q0.31 for d = 0...255 (d = largest - x); 0 where -d < diffMin.
        private let exps: [Int32]
        /// The Q12.19 term each difference adds to the sum (`RoundingDivideByPOT(exp, 12)`); 0 below diffMin.
        private let terms: [Int32]
        /// Whether difference -d reaches diffMin (smaller ones give the type's minimum).
        private let inRange: [Bool]

        init(multiplier: Int32, leftShift: Int, diffMin: Int32, outer: Int, depth: Int,
             rowTable: UnsafeMutablePointer<Out>) {
            self.outer = outer
            self.depth = depth
            self.rowTable = rowTable
            var exps = [Int32](repeating: 0, count: 256), terms = exps
            var inRange = [Bool](repeating: false, count: 256)
            for d in 0..<256 where -Int32(d) >= diffMin {
                let rescaled = Elementwise.TFLiteQuantization.multiplyGreaterThanOne(-Int32(d), multiplier, leftShift)
                exps[d] = Elementwise.Gemmlowp.expOnNegativeValues(rescaled, integerBits: 5)
                terms[d] = Elementwise.Gemmlowp.roundingDivideByPOT(exps[d], 12)
                inRange[d] = true
            }
            self.exps = exps
            self.terms = terms
            self.inRange = inRange
        }

        func run(_ x: UnsafePointer<In>, _ y: UnsafeMutablePointer<Out>) throws {
            let outMin = Int32(Out.min), outMax = Int32(Out.max)
            try exps.withUnsafeBufferPointer { exps in
                try terms.withUnsafeBufferPointer { terms in
                    try inRange.withUnsafeBufferPointer { inRange in
                        for row in 0..<outer {
                            let base = row * depth
                            var largest = In.min
                            for c in 0..<depth { largest = max(largest, x[base + c]) }
                            // Sum in Q12.19 (plain wrapping adds, as gemmlowp).
                            var sum: Int32 = 0
                            for c in 0..<depth { sum = sum &+ terms[Int(Int32(largest) - Int32(x[base + c]))] }
                            let (scale, bitsOverUnit) = Elementwise.Gemmlowp.reciprocal(sum, integerDigits: 12)
                            let exponent = bitsOverUnit + 31 - Out.bitWidth
                            guard exponent >= 0 && exponent <= 31 else {
                                throw KernelError("softmax accumulator overflow (row \(row) of depth \(depth))")
                            }
                            func value(_ d: Int) -> Out {
                                guard inRange[d] else { return Out.min }
                                let unsaturated = Elementwise.Gemmlowp.roundingDivideByPOT(
                                    Elementwise.Gemmlowp.srdhm(scale, exps[d]), exponent)
                                return Out(truncatingIfNeeded: min(max(unsaturated &+ outMin, outMin), outMax))
                            }
                            if depth > 256 {
                                for d in 0..<256 { rowTable[d] = value(d) }
                                for c in 0..<depth { y[base + c] = rowTable[Int(Int32(largest) - Int32(x[base + c]))] }
                            } else {
                                for c in 0..<depth { y[base + c] = value(Int(Int32(largest) - Int32(x[base + c]))) }
                            }
                        }
                    }
                }
            }
        }
    }
}
