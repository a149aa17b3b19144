import MagpieModel

/// DEPTHWISE_CONV_2D: NHWC input, `[1, H, W, C·M]` filter, optional bias, SAME/VALID padding, strides, dilation and
/// a fused activation, following TFLite's `depthwise_conv.cc` Prepare and the reference kernels
/// `reference_ops::DepthwiseConv` (float32; uint8 per-tensor with the away-from-zero rounding) and
/// `reference_integer_ops::DepthwiseConvPerChannel` (int8, per-tensor or per-channel symmetric filters along
/// dimension 3, int32 bias).
///
/// As in TFLite, the depth multiplier is the filter's channels divided by the input's; the option is not used.
/// Magpie refuses an int8 filter with a non-zero zero point, which LiteRT silently ignores.
enum DepthwiseConv2D {
    static let registration = OperatorRegistration(.depthwiseConv2D) { context in
        try context.requireCounts(inputs: 2...3, outputs: 1)
        guard case let .depthwiseConv2D(options) = context.op.options else {
            throw KernelError("DEPTHWISE_CONV_2D needs DepthwiseConv2DOptions, got \(context.op.options)")
        }
        let input = try context.input(0), filter = try context.input(1), output = try context.output(0)
        let bias = context.optionalInput(2)
        try context.require(input.rank == 4, "input must be 4-D (NHWC), got shape \(input.shape)")
        try context.require(filter.rank == 4, "filter must be 4-D ([1, H, W, C·M]), got shape \(filter.shape)")
        try context.require(filter.shape[0] == 1, "filter's first dimension must be 1, got shape \(filter.shape)")
        try context.require([.float32, .uint8, .int8].contains(input.type),
                            "input type \(input.type) is not supported (float32, uint8 or int8)")
        try context.require(output.type == input.type, "output type \(output.type) differs from input type \(input.type)")
        try context.require(filter.type == input.type,
                            input.type == .float32 ? "hybrid DEPTHWISE_CONV_2D (float32 input, \(filter.type) filter) is not supported"
                                                   : "filter type \(filter.type) differs from input type \(input.type)")
        try ConvolutionSupport.requirePositive([("stride_h", options.strideHeight), ("stride_w", options.strideWidth),
                                                ("dilation_h", options.dilationHeight), ("dilation_w", options.dilationWidth)])
        try context.require(options.strideHeight <= 0xFFFF && options.strideWidth <= 0xFFFF,
                            "strides above 65535 are not supported")
        let activation = try options.activation.kind()

        let inputDepth = input.shape[3], outputDepth = filter.shape[3]
        try context.require(inputDepth > 0, "input depth must be positive, got shape \(input.shape)")
        try context.require(outputDepth % inputDepth == 0,
                            "filter channels \(outputDepth) are not a multiple of the input depth \(inputDepth)")
        if let bias {
            try context.require(bias.type == (input.type == .float32 ? .float32 : .int32),
                                "bias type \(bias.type) does not fit \(input.type) input")
            try context.require(bias.rank == 1 && bias.shape[0] == outputDepth,
                                "bias shape \(bias.shape) does not match \(outputDepth) output channels")
            if input.type != .float32 {
                try context.require(bias.zeroPoint == 0, "bias zero point must be 0, got \(bias.zeroPoint)")
            }
        }

        let geometry = try ConvolutionGeometry(input: input.shape, filterHeight: filter.shape[1],
                                               filterWidth: filter.shape[2], outputDepth: outputDepth,
                                               padding: options.padding, strideHeight: options.strideHeight,
                                               strideWidth: options.strideWidth,
                                               dilationHeight: options.dilationHeight,
                                               dilationWidth: options.dilationWidth)
        try context.setOutputShape(0, geometry.outputShape)
        let tensors = Conv2DTensors(input: context.op.inputs[0], filter: context.op.inputs[1],
                                    bias: context.inputIndex(2) ?? -1, output: try context.outputIndex(0))

        switch input.type {
        case .float32:
            let range = QuantizedArithmetic.activationRange(activation)
            if context.kernels == .optimized, let fast = try FloatKernels.depthwiseConv2D(&context, geometry: geometry, tensors: tensors, min: range.min, max: range.max) { return fast }
            return ReferenceFloatDepthwiseConv2D(geometry: geometry, tensors: tensors, min: range.min, max: range.max)
        case .uint8, .int8:
            let parameters = try QuantizedConvolutionParameters(
                input: input, filter: filter, bias: bias, output: output, outputDepth: outputDepth,
                filterAxis: 3, activation: activation, requantization: context.requantization)
            if context.kernels == .optimized, let fast = try QuantizedKernels.depthwiseConv2D(
                &context, geometry: geometry, tensors: tensors, parameters: parameters, type: input.type) { return fast }
            if input.type == .uint8 {
                return ReferenceQuantizedDepthwiseConv2D<UInt8>(geometry: geometry, tensors: tensors, parameters: parameters)
            }
            return ReferenceQuantizedDepthwiseConv2D<Int8>(geometry: geometry, tensors: tensors, parameters: parameters)
        default:
            throw KernelError("input type \(input.type) is not supported")
        }
    }
}

/// `reference_ops::DepthwiseConv` for float32: output channel `ic·M + m` sums input channel `ic` times the
/// filter over rows then columns, then adds bias and clamps.
final class ReferenceFloatDepthwiseConv2D: Kernel {
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
        let multiplier = g.outputDepth / g.inputDepth
        for b in 0..<g.batches {
            for oy in 0..<g.outputHeight {
                let originY = oy * g.strideHeight - g.padHeight
                for ox in 0..<g.outputWidth {
                    let originX = ox * g.strideWidth - g.padWidth
                    let outputBase = ((b * g.outputHeight + oy) * g.outputWidth + ox) * g.outputDepth
                    for ic in 0..<g.inputDepth {
                        for m in 0..<multiplier {
                            let oc = m + ic * multiplier
                            var total: Float = 0
                            for fy in 0..<g.filterHeight {
                                let y = originY + g.dilationHeight * fy
                                for fx in 0..<g.filterWidth {
                                    let x = originX + g.dilationWidth * fx
                                    if x < 0 || x >= g.inputWidth || y < 0 || y >= g.inputHeight { continue }
                                    let i = ((b * g.inputHeight + y) * g.inputWidth + x) * g.inputDepth + ic
                                    let f = (fy * g.filterWidth + fx) * g.outputDepth + oc
                                    total += input[i] * filter[f]
                                }
                            }
                            let biasValue: Float = bias?[oc] ?? 0
                            output[outputBase + oc] = ConvolutionSupport.clamp(total + biasValue, activationMin,
                                                                               activationMax)
                        }
                    }
                }
            }
        }
    }
}

/// `DepthwiseConvBasicKernel<kAwayFromZero>` (uint8) and `DepthwiseConvPerChannel` (int8): an int32 accumulator of
/// `(filter + filter_offset) * (input + input_offset)`, plus bias, `MultiplyByQuantizedMultiplier` with the
/// channel's multiplier, plus the output zero point, clamped.
final class ReferenceQuantizedDepthwiseConv2D<T: FixedWidthInteger>: Kernel {
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
        let multiplier = g.outputDepth / g.inputDepth
        for b in 0..<g.batches {
            for oy in 0..<g.outputHeight {
                let originY = oy * g.strideHeight - g.padHeight
                for ox in 0..<g.outputWidth {
                    let originX = ox * g.strideWidth - g.padWidth
                    let outputBase = ((b * g.outputHeight + oy) * g.outputWidth + ox) * g.outputDepth
                    for ic in 0..<g.inputDepth {
                        for m in 0..<multiplier {
                            let oc = m + ic * multiplier
                            var acc: Int32 = 0
                            for fy in 0..<g.filterHeight {
                                let y = originY + g.dilationHeight * fy
                                for fx in 0..<g.filterWidth {
                                    let x = originX + g.dilationWidth * fx
                                    if x < 0 || x >= g.inputWidth || y < 0 || y >= g.inputHeight { continue }
                                    let i = ((b * g.inputHeight + y) * g.inputWidth + x) * g.inputDepth + ic
                                    let f = (fy * g.filterWidth + fx) * g.outputDepth + oc
                                    let inputValue = Int32(truncatingIfNeeded: input[i]) &+ p.inputOffset
                                    let filterValue = Int32(truncatingIfNeeded: filter[f]) &+ p.filterOffset
                                    acc = acc &+ filterValue &* inputValue
                                }
                            }
                            if let bias { acc = acc &+ bias[oc] }
                            output[outputBase + oc] = T(truncatingIfNeeded: p.requantize(acc, channel: oc))
                        }
                    }
                }
            }
        }
    }
}
