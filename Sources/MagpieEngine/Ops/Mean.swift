import MagpieModel

/// MEAN: the average over the axes of a constant int32 axis tensor (negative axes count from the end, repeats
/// ignored), keeping reduced dimensions as 1 when `keep_dims`, following LiteRT 2.3.0's `reduce.cc` with kReference:
///
/// - float32: sums in input order into float accumulators, then divides by the element count;
/// - int32 / int64: sums in int64 (wrapping), then divides with C++ truncation;
/// - uint8 / int8 (`reference_ops::QuantizedMeanOrSum`, the same path whatever the scales, the axes or
///   `keep_dims`): an int32 (wrapping) sum `S` over `n` elements; the multiplier of `input_scale / output_scale`
///   is folded with `1/n` as `multiplier' = (multiplier << k) / n`, `shift' = shift - k` with
///   `k = min(floor(log2 n), 32, 31 + shift)`; then `MultiplyByQuantizedMultiplier(S - zp_in·n, multiplier', shift')
///   + zp_out`, clamped to the type.
///
/// An empty input gives NaN (float32) or 0 (integers), as TFLite.
enum Mean {
    static let registration = OperatorRegistration(.mean) { context in
        try context.requireCounts(inputs: 2...2, outputs: 1)
        let input = try context.input(0), axisTensor = try context.input(1), output = try context.output(0)
        let keepDims: Bool
        switch context.op.options {
        case let .reducer(k): keepDims = k
        case .none: keepDims = false
        default: throw KernelError("MEAN needs ReducerOptions, got \(context.op.options)")
        }
        try context.require([.float32, .int32, .int64, .uint8, .int8].contains(input.type),
                            "input type \(input.type) is not supported (float32, int32, int64, uint8 or int8)")
        try context.require(output.type == input.type, "output type \(output.type) differs from input type \(input.type)")
        try context.require(axisTensor.type == .int32, "axis tensor must be int32, got \(axisTensor.type)")
        // An empty axis tensor (no data to hold) reduces nothing.
        let constant = axisTensor.elementCount == 0 ? [] : try context.constantValues(1, as: Int32.self)
        guard let axisValues = constant else {
            throw KernelError("an axis tensor computed at run time is not supported")
        }
        try context.require(axisValues.count == axisTensor.elementCount,
                            "axis tensor holds \(axisValues.count) values for shape \(axisTensor.shape)")

        // reference_ops::ResolveAxis: wrap negatives, reject out of range, drop repeats.
        let rank = input.rank
        var axes: [Int] = []
        if rank > 0 {
            for a in axisValues {
                let axis = a < 0 ? Int(a) + rank : Int(a)
                try context.require(axis >= 0 && axis < rank, "axis \(a) is out of range for rank \(rank)")
                if !axes.contains(axis) { axes.append(axis) }
            }
        }
        var outputShape: [Int] = []
        for (d, size) in input.shape.enumerated() {
            if axes.contains(d) {
                if keepDims { outputShape.append(1) }
            } else {
                outputShape.append(size)
            }
        }
        try context.setOutputShape(0, outputShape)

        // Output strides of each input dimension (0 along reduced ones), for visiting the input in order.
        var strides = [Int](repeating: 0, count: rank)
        var running = 1
        for d in stride(from: rank - 1, through: 0, by: -1) where !axes.contains(d) {
            strides[d] = running
            running *= input.shape[d]
        }
        let reducedCount = axes.reduce(Int64(1)) { $0 * Int64(input.shape[$1]) }
        let outputCount = outputShape.reduce(1, *)
        let counter = context.allocate(Int.self, count: max(rank, 1))
        let visitor = ReductionVisitor(dims: input.shape, outputStrides: strides, counter: counter,
                                       inputCount: input.elementCount)
        let tensors = (input: context.op.inputs[0], output: try context.outputIndex(0))

        switch input.type {
        case .float32:
            let sums = context.allocate(Float.self, count: outputCount)
            return ReferenceFloatMean(visitor: visitor, input: tensors.input, output: tensors.output, sums: sums,
                                      outputCount: outputCount, reducedCount: reducedCount)
        case .int32:
            let sums = context.allocate(Int64.self, count: outputCount)
            return ReferenceIntegerMean<Int32>(visitor: visitor, input: tensors.input, output: tensors.output, sums: sums,
                                               outputCount: outputCount, reducedCount: reducedCount)
        case .int64:
            let sums = context.allocate(Int64.self, count: outputCount)
            return ReferenceIntegerMean<Int64>(visitor: visitor, input: tensors.input, output: tensors.output, sums: sums,
                                               outputCount: outputCount, reducedCount: reducedCount)
        case .uint8, .int8:
            let (inputScale, inputZeroPoint) = try ConvolutionSupport.perTensorQuantization(input, "input")
            let (outputScale, outputZeroPoint) = try ConvolutionSupport.perTensorQuantization(output, "output")
            // PrepareMeanOrSum: the multiplier of input_scale / output_scale (exponent as the shift).
            var (multiplier, shift) = QuantizedArithmetic.quantizeMultiplier(Double(inputScale) / Double(outputScale))
            // QuantizedMeanOrSum: fold 1/n into the multiplier. shift >= -31 always (QuantizeMultiplier flushes
            // smaller ones to 0), so k >= 0.
            if reducedCount > 0 {
                var k = 63 - reducedCount.leadingZeroBitCount
                k = min(k, 32)
                k = min(k, 31 + shift)
                multiplier = Int32(truncatingIfNeeded: (Int64(multiplier) << Int64(k)) / reducedCount)
                shift -= k
            }
            let sums = context.allocate(Int32.self, count: outputCount)
            var parameters = QuantizedMeanParameters(inputZeroPoint: inputZeroPoint, outputZeroPoint: outputZeroPoint,
                                                     multiplier: multiplier, shift: shift)
            if context.requantization == .xnnpack {
                let scale = inputScale / (outputScale * Float(reducedCount))
                parameters.floatScale = scale >= 0x1p-32 && scale < 256 ? scale : nil
            }
            if input.type == .uint8 {
                return ReferenceQuantizedMean<UInt8>(visitor: visitor, input: tensors.input, output: tensors.output,
                                                     sums: sums, outputCount: outputCount, reducedCount: reducedCount,
                                                     parameters: parameters)
            }
            return ReferenceQuantizedMean<Int8>(visitor: visitor, input: tensors.input, output: tensors.output,
                                                sums: sums, outputCount: outputCount, reducedCount: reducedCount,
                                                parameters: parameters)
        default:
            throw KernelError("input type \(input.type) is not supported")
        }
    }
}

/// Visits every input element in row-major order (as `reference_ops::Reduce` does) with the offset of the output
/// element it reduces into, one innermost run at a time.
struct ReductionVisitor {
    let dims: [Int]
    let outputStrides: [Int]
    /// Scratch for the multi-index (rank entries), owned by the prepared plan.
    let counter: UnsafeMutablePointer<Int>
    let inputCount: Int

    /// Calls `run(inputOffset, outputOffset, outputStep, length)` for each run of the innermost dimension.
    @inline(__always)
    func forEachRun(_ run: (Int, Int, Int, Int) -> Void) {
        let rank = dims.count
        if inputCount == 0 { return }
        if rank == 0 { run(0, 0, 0, 1); return }
        let length = dims[rank - 1], step = outputStrides[rank - 1]
        for d in 0..<rank { counter[d] = 0 }
        var inputOffset = 0
        while true {
            var outputOffset = 0
            for d in 0..<(rank - 1) { outputOffset += counter[d] * outputStrides[d] }
            run(inputOffset, outputOffset, step, length)
            inputOffset += length
            // Advance the outer dimensions like an odometer.
            var d = rank - 2
            while d >= 0 {
                counter[d] += 1
                if counter[d] < dims[d] { break }
                counter[d] = 0
                d -= 1
            }
            if d < 0 { return }
        }
    }
}

/// Float32 MEAN: float sums in input order, then `sum / float(n)`.
final class ReferenceFloatMean: Kernel {
    let visitor: ReductionVisitor
    let input: Int, output: Int
    let sums: UnsafeMutablePointer<Float>
    let outputCount: Int
    let reducedCount: Int64

    init(visitor: ReductionVisitor, input: Int, output: Int, sums: UnsafeMutablePointer<Float>, outputCount: Int,
         reducedCount: Int64) {
        self.visitor = visitor; self.input = input; self.output = output; self.sums = sums
        self.outputCount = outputCount; self.reducedCount = reducedCount
    }

    func invoke(_ t: TensorBuffers) throws {
        let x = UnsafePointer(t.pointer(input, as: Float.self))
        let y = t.pointer(output, as: Float.self)
        if visitor.inputCount == 0 {
            for i in 0..<outputCount { y[i] = .nan }
            return
        }
        let sums = self.sums
        for i in 0..<outputCount { sums[i] = 0 }
        visitor.forEachRun { i, o, step, length in
            for k in 0..<length { sums[o + k * step] += x[i + k] }
        }
        let divisor = Float(reducedCount)
        for i in 0..<outputCount { y[i] = sums[i] / divisor }
    }
}

/// Int32/int64 MEAN: int64 sums (wrapping), then C++ truncating division.
final class ReferenceIntegerMean<T: FixedWidthInteger>: Kernel {
    let visitor: ReductionVisitor
    let input: Int, output: Int
    let sums: UnsafeMutablePointer<Int64>
    let outputCount: Int
    let reducedCount: Int64

    init(visitor: ReductionVisitor, input: Int, output: Int, sums: UnsafeMutablePointer<Int64>, outputCount: Int,
         reducedCount: Int64) {
        self.visitor = visitor; self.input = input; self.output = output; self.sums = sums
        self.outputCount = outputCount; self.reducedCount = reducedCount
    }

    func invoke(_ t: TensorBuffers) throws {
        let x = UnsafePointer(t.pointer(input, as: T.self))
        let y = t.pointer(output, as: T.self)
        let sums = self.sums
        for i in 0..<outputCount { sums[i] = 0; y[i] = 0 }
        if visitor.inputCount == 0 { return }
        visitor.forEachRun { i, o, step, length in
            for k in 0..<length { sums[o + k * step] = sums[o + k * step] &+ Int64(truncatingIfNeeded: x[i + k]) }
        }
        for i in 0..<outputCount {
            // Int64.min / -1 cannot happen: the divisor is a positive count.
            y[i] = T(truncatingIfNeeded: sums[i] / reducedCount)
        }
    }
}

/// Zero points and the `1/n`-folded fixed-point multiplier of a quantized MEAN.
struct QuantizedMeanParameters {
    let inputZeroPoint: Int32, outputZeroPoint: Int32
    let multiplier: Int32
    let shift: Int
    /// With `Requantization.xnnpack`: `input_scale / (output_scale * n)` in float32, which scales the sum less
    /// `n * input_zero_point` (clamped in float to the type's range less the output zero point, rounded half to
    /// even, plus the output zero point), as the convolutions' float requantization; nil for TFLite's fixed point
    /// (or a scale outside [2^-32, 256)).
    var floatScale: Float? = nil
}

/// uint8/int8 MEAN: `reference_ops::QuantizedMeanOrSum` with `compute_sum = false`, or with XNNPACK's arithmetic
/// a float32 scale (`QuantizedMeanParameters.floatScale`).
final class ReferenceQuantizedMean<T: FixedWidthInteger>: Kernel {
    let visitor: ReductionVisitor
    let input: Int, output: Int
    let sums: UnsafeMutablePointer<Int32>
    let outputCount: Int
    let reducedCount: Int64
    let p: QuantizedMeanParameters

    init(visitor: ReductionVisitor, input: Int, output: Int, sums: UnsafeMutablePointer<Int32>, outputCount: Int,
         reducedCount: Int64, parameters: QuantizedMeanParameters) {
        self.visitor = visitor; self.input = input; self.output = output; self.sums = sums
        self.outputCount = outputCount; self.reducedCount = reducedCount; p = parameters
    }

    @_specialize(where T == UInt8)
    @_specialize(where T == Int8)
    func invoke(_ t: TensorBuffers) throws {
        let x = UnsafePointer(t.pointer(input, as: T.self))
        let y = t.pointer(output, as: T.self)
        let sums = self.sums
        for i in 0..<outputCount { sums[i] = 0; y[i] = 0 }
        if visitor.inputCount == 0 { return }
        visitor.forEachRun { i, o, step, length in
            if step == 1 {
                Self.addRun(UnsafePointer(x + i), into: sums + o, count: length)
            } else {
                for k in 0..<length { sums[o + k * step] = sums[o + k * step] &+ Int32(truncatingIfNeeded: x[i + k]) }
            }
        }
        let lo = Int32(truncatingIfNeeded: T.min), hi = Int32(truncatingIfNeeded: T.max)
        let zeroPointTotal = Int64(p.inputZeroPoint) &* reducedCount
        for i in 0..<outputCount {
            let shifted = Int32(truncatingIfNeeded: Int64(sums[i]) &- zeroPointTotal)
            if let s = p.floatScale {
                y[i] = T(truncatingIfNeeded: QuantizedArithmetic.floatRequantize(
                    shifted, scale: s, lo: Float(lo - p.outputZeroPoint), hi: Float(hi - p.outputZeroPoint),
                    zeroPoint: p.outputZeroPoint))
                continue
            }
            var v = QuantizedArithmetic.multiplyByQuantizedMultiplier(shifted, p.multiplier, p.shift)
            v = v &+ p.outputZeroPoint
            v = max(v, lo)
            v = min(v, hi)
            y[i] = T(truncatingIfNeeded: v)
        }
    }

    /// `sums[k] &+= x[k]` for k < count: one run of the innermost (kept) dimension, as a loop LLVM vectorizes
    /// (a global average pool's 49 x 1280 bytes take microseconds instead of tens of them).
    @inline(never)
    @_specialize(where T == UInt8)
    @_specialize(where T == Int8)
    static func addRun(_ x: UnsafePointer<T>, into sums: UnsafeMutablePointer<Int32>, count: Int) {
        for k in 0..<count { sums[k] = sums[k] &+ Int32(truncatingIfNeeded: x[k]) }
    }
}
