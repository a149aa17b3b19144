import MagpieModel

/// CONV_2D: NHWC input, OHWI filter, optional bias, SAME/VALID padding, strides, dilation, grouped filters
/// (input depth a multiple of the filter's) and a fused activation, following TFLite's `conv.cc` Prepare and the
/// reference kernels `reference_ops::Conv` (float32, uint8 per-tensor) and `reference_integer_ops::ConvPerChannel`
/// (int8, per-tensor or per-channel symmetric filters along dimension 0, int32 bias).
///
/// LiteRT 2.3.0 refuses a CONV_2D without bias; Magpie accepts it and adds nothing (the same as a zero bias).
enum Conv2D {
    static let registration = OperatorRegistration(.conv2D) { context in
        try context.requireCounts(inputs: 2...3, outputs: 1)
        guard case let .conv2D(options) = context.op.options else {
            throw KernelError("CONV_2D needs Conv2DOptions, got \(context.op.options)")
        }
        let input = try context.input(0), filter = try context.input(1), output = try context.output(0)
        let bias = context.optionalInput(2)
        try context.require(input.rank == 4, "input must be 4-D (NHWC), got shape \(input.shape)")
        try context.require(filter.rank == 4, "filter must be 4-D (OHWI), got shape \(filter.shape)")
        try context.require([.float32, .uint8, .int8].contains(input.type),
                            "input type \(input.type) is not supported (float32, uint8 or int8)")
        try context.require(output.type == input.type, "output type \(output.type) differs from input type \(input.type)")
        try context.require(filter.type == input.type,
                            input.type == .float32 ? "hybrid CONV_2D (float32 input, \(filter.type) filter) is not supported"
                                                   : "filter type \(filter.type) differs from input type \(input.type)")
        try ConvolutionSupport.requirePositive([("stride_h", options.strideHeight), ("stride_w", options.strideWidth),
                                                ("dilation_h", options.dilationHeight), ("dilation_w", options.dilationWidth)])
        let activation = try options.activation.kind()

        let outputDepth = filter.shape[0], filterDepth = filter.shape[3]
        try context.require(filterDepth > 0, "filter input depth must be positive, got shape \(filter.shape)")
        try context.require(input.shape[3] % filterDepth == 0,
                            "input depth \(input.shape[3]) is not a multiple of the filter depth \(filterDepth)")
        let groups = input.shape[3] / filterDepth
        try context.require(groups > 0 && outputDepth % groups == 0,
                            "\(outputDepth) filters cannot be split into \(groups) groups")
        if let bias {
            try context.require(bias.type == (input.type == .float32 ? .float32 : .int32),
                                "bias type \(bias.type) does not fit \(input.type) input")
            try context.require(bias.elementCount == outputDepth,
                                "bias has \(bias.elementCount) elements for \(outputDepth) output channels")
            if input.type != .float32 {
                try context.require(bias.zeroPoint == 0, "bias zero point must be 0, got \(bias.zeroPoint)")
            }
        }

        var geometry = try ConvolutionGeometry(input: input.shape, filterHeight: filter.shape[1],
                                               filterWidth: filter.shape[2], outputDepth: outputDepth,
                                               padding: options.padding, strideHeight: options.strideHeight,
                                               strideWidth: options.strideWidth,
                                               dilationHeight: options.dilationHeight,
                                               dilationWidth: options.dilationWidth)
        geometry.filterDepth = filterDepth
        try context.setOutputShape(0, geometry.outputShape)
        let tensors = Conv2DTensors(input: context.op.inputs[0], filter: context.op.inputs[1],
                                    bias: context.inputIndex(2) ?? -1, output: try context.outputIndex(0))

        switch input.type {
        case .float32:
            let range = QuantizedArithmetic.activationRange(activation)
            if context.kernels == .optimized, let fast = try FloatKernels.conv2D(&context, geometry: geometry, tensors: tensors, min: range.min, max: range.max) { return fast }
            return ReferenceFloatConv2D(geometry: geometry, tensors: tensors, min: range.min, max: range.max)
        case .uint8, .int8:
            let parameters = try QuantizedConvolutionParameters(
                input: input, filter: filter, bias: bias, output: output, outputDepth: outputDepth,
                filterAxis: 0, activation: activation, requantization: context.requantization)
            if context.kernels == .optimized, let fast = try QuantizedKernels.conv2D(
                &context, geometry: geometry, tensors: tensors, parameters: parameters, type: input.type) { return fast }
            if input.type == .uint8 {
                return ReferenceQuantizedConv2D<UInt8>(geometry: geometry, tensors: tensors, parameters: parameters)
            }
            return ReferenceQuantizedConv2D<Int8>(geometry: geometry, tensors: tensors, parameters: parameters)
        default:
            throw KernelError("input type \(input.type) is not supported")
        }
    }
}

/// Tensor indices of a convolution; `bias` is -1 when there is none.
struct Conv2DTensors {
    let input: Int, filter: Int, bias: Int, output: Int
}

/// Offsets, per-output-channel multipliers and clamp range of a quantized convolution (TFLite's `ConvParams` plus
/// the per-channel arrays). The offsets are the negated input/filter zero points and the output zero point.
struct QuantizedConvolutionParameters {
    let inputOffset: Int32, filterOffset: Int32, outputOffset: Int32
    let multipliers: [Int32]
    let shifts: [Int]
    let activationMin: Int32, activationMax: Int32
    /// With `Requantization.xnnpack`: per channel `input_scale * filter_scale / output_scale` in float32; nil for
    /// the fixed-point arithmetic (asked for, or a scale outside what the float scheme takes).
    let floatScales: [Float]?
    /// The activation range less the output zero point, in float (the float scheme clamps before rounding).
    let floatMin: Float, floatMax: Float

    /// The parameters of a uint8 or int8 CONV_2D or DEPTHWISE_CONV_2D as TFLite prepares them: per-tensor input and
    /// output quantization, filter quantization per tensor (uint8) or per channel along `filterAxis` (int8, symmetric),
    /// the uint8 bias-scale check, per-channel multipliers (uint8: from the float product of scales) and the clamp
    /// range of the fused activation.
    init(input: TensorInfo, filter: TensorInfo, bias: TensorInfo?, output: TensorInfo, outputDepth: Int,
         filterAxis: Int, activation: FusedActivationKind, requantization: Requantization) throws {
        let (inputScale, inputZeroPoint) = try ConvolutionSupport.perTensorQuantization(input, "input")
        let (outputScale, outputZeroPoint) = try ConvolutionSupport.perTensorQuantization(output, "output")
        let (filterScales, filterZeroPoint) = try ConvolutionSupport.filterQuantization(
            filter, channels: outputDepth, axis: filterAxis, symmetric: input.type == .int8)
        if input.type == .uint8 {
            try ConvolutionSupport.checkBiasScale(bias, inputScale: inputScale, filterScale: filterScales[0],
                                                  outputScale: outputScale)
        }
        (multipliers, shifts) = ConvolutionSupport.channelMultipliers(
            inputScale: inputScale, filterScales: filterScales, outputScale: outputScale,
            productInFloat: input.type == .uint8)
        let range = ConvolutionSupport.quantizedActivationRange(activation, scale: outputScale,
                                                                zeroPoint: outputZeroPoint, type: output.type)
        inputOffset = -inputZeroPoint
        filterOffset = -filterZeroPoint
        outputOffset = outputZeroPoint
        activationMin = range.min
        activationMax = range.max
        floatScales = requantization == .xnnpack
            ? ConvolutionSupport.floatScales(inputScale: inputScale, filterScales: filterScales,
                                             outputScale: outputScale)
            : nil
        floatMin = Float(range.min - outputZeroPoint)
        floatMax = Float(range.max - outputZeroPoint)
    }

    /// The output value of channel `channel`'s sum `acc` (bias included): requantized, plus the output zero point,
    /// clamped to the activation range.
    @inline(__always)
    func requantize(_ acc: Int32, channel: Int) -> Int32 {
        if let floatScales {
            return QuantizedArithmetic.floatRequantize(acc, scale: floatScales[channel], lo: floatMin, hi: floatMax,
                                                       zeroPoint: outputOffset)
        }
        let v = QuantizedArithmetic.multiplyByQuantizedMultiplier(acc, multipliers[channel], shifts[channel])
            &+ outputOffset
        return Swift.min(Swift.max(v, activationMin), activationMax)
    }
}

/// `reference_ops::Conv` for float32: per output, the sum over filter rows, columns and input channels in that
/// order, then plus bias, then clamped.
final class ReferenceFloatConv2D: Kernel {
    let g: ConvolutionGeometry
    let tensors: Conv2DTensors
    let activationMin: Float, activationMax: Float

    init(geometry: ConvolutionGeometry, tensors: Conv2DTensors, min: Float, max: Float) {
        g = geometry; self.tensors = tensors; activationMin = min; activationMax = max
    }

    func invoke(_ t: TensorBuffers) throws {
        let input = UnsafePointer(t.pointer(tensors.input, as: Float.self))
        let filter = UnsafePointer(t.pointer(tensors.filter, as: Float.self))
        let bias: UnsafePointer<Float>? = tensors.bias >= 0 ? UnsafePointer(t.pointer(tensors.bias, as: Float.self)) : nil
        let output = t.pointer(tensors.output, as: Float.self)
        let depth = g.filterDepth
        let filtersPerGroup = g.outputDepth / max(g.inputDepth / depth, 1)
        var o = 0
        for b in 0..<g.batches {
            for oy in 0..<g.outputHeight {
                let originY = oy * g.strideHeight - g.padHeight
                for ox in 0..<g.outputWidth {
                    let originX = ox * g.strideWidth - g.padWidth
                    for oc in 0..<g.outputDepth {
                        let channelBase = (oc / filtersPerGroup) * depth
                        var total: Float = 0
                        for fy in 0..<g.filterHeight {
                            let y = originY + g.dilationHeight * fy
                            if y < 0 || y >= g.inputHeight { continue }
                            for fx in 0..<g.filterWidth {
                                let x = originX + g.dilationWidth * fx
                                if x < 0 || x >= g.inputWidth { continue }
                                let i = ((b * g.inputHeight + y) * g.inputWidth + x) * g.inputDepth + channelBase
                                let f = ((oc * g.filterHeight + fy) * g.filterWidth + fx) * depth
                                for c in 0..<depth {
                                    total += input[i + c] * filter[f + c]
                                }
                            }
                        }
                        let biasValue: Float = bias?[oc] ?? 0
                        output[o] = ConvolutionSupport.clamp(total + biasValue, activationMin, activationMax)
                        o += 1
                    }
                }
            }
        }
    }
}

/// `reference_ops::Conv` (uint8) and `reference_integer_ops::ConvPerChannel` (int8): an int32 accumulator of
/// `(filter + filter_offset) * (input + input_offset)` (wrapping as the C++ does on overflow), plus bias,
/// `MultiplyByQuantizedMultiplier` with the channel's multiplier (or the float scheme, `requantize`), plus the
/// output zero point, clamped.
final class ReferenceQuantizedConv2D<T: FixedWidthInteger>: Kernel {
    let g: ConvolutionGeometry
    let tensors: Conv2DTensors
    let p: QuantizedConvolutionParameters

    init(geometry: ConvolutionGeometry, tensors: Conv2DTensors, parameters: QuantizedConvolutionParameters) {
        g = geometry; self.tensors = tensors; p = parameters
    }

    @_specialize(where T == UInt8)
    @_specialize(where T == Int8)
    func invoke(_ t: TensorBuffers) throws {
        let input = UnsafePointer(t.pointer(tensors.input, as: T.self))
        let filter = UnsafePointer(t.pointer(tensors.filter, as: T.self))
        let bias: UnsafePointer<Int32>? = tensors.bias >= 0 ? UnsafePointer(t.pointer(tensors.bias, as: Int32.self)) : nil
        let output = t.pointer(tensors.output, as: T.self)
        let depth = g.filterDepth
        let filtersPerGroup = g.outputDepth / max(g.inputDepth / depth, 1)
        var o = 0
        for b in 0..<g.batches {
            for oy in 0..<g.outputHeight {
                let originY = oy * g.strideHeight - g.padHeight
                for ox in 0..<g.outputWidth {
                    let originX = ox * g.strideWidth - g.padWidth
                    for oc in 0..<g.outputDepth {
                        let channelBase = (oc / filtersPerGroup) * depth
                        var acc: Int32 = 0
                        for fy in 0..<g.filterHeight {
                            let y = originY + g.dilationHeight * fy
                            if y < 0 || y >= g.inputHeight { continue }
                            for fx in 0..<g.filterWidth {
                                let x = originX + g.dilationWidth * fx
                                if x < 0 || x >= g.inputWidth { continue }
                                let i = ((b * g.inputHeight + y) * g.inputWidth + x) * g.inputDepth + channelBase
                                let f = ((oc * g.filterHeight + fy) * g.filterWidth + fx) * depth
                                for c in 0..<depth {
                                    let inputValue = Int32(truncatingIfNeeded: input[i + c]) &+ p.inputOffset
                                    let filterValue = Int32(truncatingIfNeeded: filter[f + c]) &+ p.filterOffset
                                    acc = acc &+ filterValue &* inputValue
                                }
                            }
                        }
                        if let bias { acc = acc &+ bias[oc] }
                        output[o] = T(truncatingIfNeeded: p.requantize(acc, channel: oc))
                        o += 1
                    }
                }
            }
        }
    }
}
