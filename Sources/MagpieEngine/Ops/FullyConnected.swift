import MagpieModel

/// FULLY_CONNECTED: `output[b, u] = Σ_d input[b, d] · weights[u, d] + bias[u]`, the input flattened to
/// `[size / depth, depth]`, following TFLite's `fully_connected.cc` (default weights format only; `keep_num_dims`
/// keeps the input's leading dimensions) and its reference kernels for float32, uint8 and int8 (per-tensor weights
/// with their zero point, or per-channel symmetric int8 weights along dimension 0; int32 bias).
///
/// The quantized reference kernels of LiteRT 2.3.0 do not use a fixed-point multiplier: they rescale the int32
/// accumulator with `round(acc * (double(input_scale) * double(filter_scale) / double(output_scale)))`, rounding
/// half away from zero, which Magpie does too.
enum FullyConnected {
    static let registration = OperatorRegistration(.fullyConnected) { context in
        guard case let .fullyConnected(options) = context.op.options else {
            throw KernelError("FULLY_CONNECTED needs FullyConnectedOptions, got \(context.op.options)")
        }
        try context.require(options.weightsFormat == 0,
                            "weights format \(options.weightsFormat) (shuffled) is not supported; only DEFAULT")
        try context.requireCounts(inputs: 2...3, outputs: 1)
        let input = try context.input(0), filter = try context.input(1), output = try context.output(0)
        let bias = context.optionalInput(2)
        try context.require([.float32, .uint8, .int8].contains(input.type),
                            "input type \(input.type) is not supported (float32, uint8 or int8)")
        try context.require(output.type == input.type, "output type \(output.type) differs from input type \(input.type)")
        try context.require(filter.type == input.type,
                            input.type == .float32 ? "hybrid FULLY_CONNECTED (float32 input, \(filter.type) weights) is not supported"
                                                   : "weights type \(filter.type) differs from input type \(input.type)")
        try context.require(filter.rank == 2, "weights must be 2-D, got shape \(filter.shape)")
        let units = filter.shape[0], depth = filter.shape[1]
        try context.require(depth > 0, "weights have no input depth (shape \(filter.shape))")
        try context.require(input.rank >= 1, "input must have at least one dimension")
        let inputSize = input.elementCount
        try context.require(inputSize % depth == 0,
                            "input shape \(input.shape) does not flatten into rows of depth \(depth)")
        let batches = inputSize / depth
        if let bias {
            try context.require(bias.type == (input.type == .float32 ? .float32 : .int32),
                                "bias type \(bias.type) does not fit \(input.type) input")
            try context.require(bias.elementCount == units, "bias has \(bias.elementCount) elements for \(units) units")
        }
        let activation = try options.activation.kind()
        if options.keepNumDims {
            try context.require(input.shape[input.rank - 1] == depth,
                                "keep_num_dims needs the input's last dimension (\(input.shape)) to equal the weights' depth \(depth)")
            try context.setOutputShape(0, Array(input.shape.dropLast()) + [units])
        } else {
            try context.setOutputShape(0, [batches, units])
        }
        let tensors = FullyConnectedTensors(input: context.op.inputs[0], filter: context.op.inputs[1],
                                            bias: context.inputIndex(2) ?? -1, output: try context.outputIndex(0),
                                            batches: batches, units: units, depth: depth)

        switch input.type {
        case .float32:
            let range = QuantizedArithmetic.activationRange(activation)
            return ReferenceFloatFullyConnected(tensors: tensors, min: range.min, max: range.max)
        case .uint8, .int8:
            let (inputScale, inputZeroPoint) = try ConvolutionSupport.perTensorQuantization(input, "input")
            let (outputScale, outputZeroPoint) = try ConvolutionSupport.perTensorQuantization(output, "output")
            let (filterScales, filterZeroPoint) = try ConvolutionSupport.filterQuantization(
                filter, channels: units, axis: 0, symmetric: false)
            if filter.quantization?.isPerChannel != true {
                try ConvolutionSupport.checkBiasScale(bias, inputScale: inputScale, filterScale: filterScales[0],
                                                      outputScale: outputScale)
            }
            let scales = filterScales.map { Double(inputScale) * Double($0) / Double(outputScale) }
            let range = ConvolutionSupport.quantizedActivationRange(activation, scale: outputScale,
                                                                    zeroPoint: outputZeroPoint, type: output.type)
            let parameters = QuantizedFullyConnectedParameters(
                inputOffset: -inputZeroPoint, filterOffset: -filterZeroPoint, outputOffset: outputZeroPoint,
                effectiveScales: scales, activationMin: range.min, activationMax: range.max,
                floatScales: context.requantization == .xnnpack
                    ? ConvolutionSupport.floatScales(inputScale: inputScale, filterScales: filterScales,
                                                     outputScale: outputScale)
                    : nil)
            if input.type == .uint8 {
                return ReferenceQuantizedFullyConnected<UInt8>(tensors: tensors, parameters: parameters)
            }
            return ReferenceQuantizedFullyConnected<Int8>(tensors: tensors, parameters: parameters)
        default:
            throw KernelError("input type \(input.type) is not supported")
        }
    }
}

/// Tensor indices and the flattened matrix sizes of a FULLY_CONNECTED; `bias` is -1 when there is none.
struct FullyConnectedTensors {
    let input: Int, filter: Int, bias: Int, output: Int
    let batches: Int, units: Int, depth: Int
}

/// Offsets, per-unit real rescaling factors and clamp range of a quantized FULLY_CONNECTED.
struct QuantizedFullyConnectedParameters {
    let inputOffset: Int32, filterOffset: Int32, outputOffset: Int32
    /// `double(input_scale) * double(filter_scale[u]) / double(output_scale)`.
    let effectiveScales: [Double]
    let activationMin: Int32, activationMax: Int32
    /// With `Requantization.xnnpack`: `input_scale * filter_scale[u] / output_scale` in float32 (then the output is
    /// `round_half_even(clamp(float(acc) * scale))` plus the zero point); nil for the double-precision scheme.
    let floatScales: [Float]?
}

/// `reference_ops::FullyConnected` for float32: the dot product summed in depth order, plus bias, clamped.
final class ReferenceFloatFullyConnected: Kernel {
    let tensors: FullyConnectedTensors
    let activationMin: Float, activationMax: Float

    init(tensors: FullyConnectedTensors, min: Float, max: Float) {
        self.tensors = tensors; activationMin = min; activationMax = max
    }

    func invoke(_ t: TensorBuffers) throws {
        let input = UnsafePointer(t.pointer(tensors.input, as: Float.self))
        let weights = UnsafePointer(t.pointer(tensors.filter, as: Float.self))
        let bias: UnsafePointer<Float>? = tensors.bias >= 0 ? UnsafePointer(t.pointer(tensors.bias, as: Float.self)) : nil
        let output = t.pointer(tensors.output, as: Float.self)
        let depth = tensors.depth, units = tensors.units
        for b in 0..<tensors.batches {
            for u in 0..<units {
                var total: Float = 0
                for d in 0..<depth {
                    total += input[b * depth + d] * weights[u * depth + d]
                }
                let biasValue: Float = bias?[u] ?? 0
                output[b * units + u] = ConvolutionSupport.clamp(total + biasValue, activationMin, activationMax)
            }
        }
    }
}

/// The uint8/int8 reference FULLY_CONNECTED of LiteRT 2.3.0: an int32 accumulator of
/// `(weight + weight_offset) * (input + input_offset)` plus bias, rescaled by `round(acc * effective_scale)` in
/// double, plus the output zero point, clamped.
final class ReferenceQuantizedFullyConnected<T: FixedWidthInteger>: Kernel {
    let tensors: FullyConnectedTensors
    let p: QuantizedFullyConnectedParameters

    init(tensors: FullyConnectedTensors, parameters: QuantizedFullyConnectedParameters) {
        self.tensors = tensors; p = parameters
    }

    @_specialize(where T == UInt8)
    @_specialize(where T == Int8)
    func invoke(_ t: TensorBuffers) throws {
        let input = UnsafePointer(t.pointer(tensors.input, as: T.self))
        let weights = UnsafePointer(t.pointer(tensors.filter, as: T.self))
        let bias: UnsafePointer<Int32>? = tensors.bias >= 0 ? UnsafePointer(t.pointer(tensors.bias, as: Int32.self)) : nil
        let output = t.pointer(tensors.output, as: T.self)
        let depth = tensors.depth, units = tensors.units
        let lo = Float(p.activationMin - p.outputOffset), hi = Float(p.activationMax - p.outputOffset)
        for b in 0..<tensors.batches {
            for u in 0..<units {
                var acc: Int32 = 0
                for d in 0..<depth {
                    let inputValue = Int32(truncatingIfNeeded: input[b * depth + d]) &+ p.inputOffset
                    let weightValue = Int32(truncatingIfNeeded: weights[u * depth + d]) &+ p.filterOffset
                    acc = acc &+ weightValue &* inputValue
                }
                if let bias { acc = acc &+ bias[u] }
                if let scales = p.floatScales {
                    output[b * units + u] = T(truncatingIfNeeded: QuantizedArithmetic.floatRequantize(
                        acc, scale: scales[u], lo: lo, hi: hi, zeroPoint: p.outputOffset))
                    continue
                }
                var scaled = ConvolutionSupport.roundToInt32(Double(acc) * p.effectiveScales[u])
                scaled = scaled &+ p.outputOffset
                scaled = max(scaled, p.activationMin)
                scaled = min(scaled, p.activationMax)
                output[b * units + u] = T(truncatingIfNeeded: scaled)
            }
        }
    }
}
