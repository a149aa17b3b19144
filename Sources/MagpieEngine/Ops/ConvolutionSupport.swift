import MagpieModel

/// Shared pieces of the convolution, pooling, dense and reduction operators: TFLite's window arithmetic
/// (`kernels/padding.h`), quantization checks (`kernel_util.cc`) and the C++ clamping the reference kernels use.
enum ConvolutionSupport {
    // MARK: Windows

    /// TFLite's `ComputeOutSize`: SAME gives `ceil(input / stride)`, VALID `floor((input - effective) / stride) + 1`
    /// with the dilated filter size; C++ truncating division (a VALID window wider than the input goes negative).
    static func outputSize(_ padding: Padding, input: Int, filter: Int, stride: Int, dilation: Int) -> Int {
        let effective = (filter - 1) * dilation + 1
        switch padding {
        case .same: return (input + stride - 1) / stride
        case .valid: return (input + stride - effective) / stride
        }
    }

    /// TFLite's `ComputePaddingWithOffset`: half the total padding, rounded down (the reference kernels ignore the
    /// odd extra pixel, which falls at the end).
    static func leadingPadding(stride: Int, dilation: Int, input: Int, filter: Int, output: Int) -> Int {
        let effective = (filter - 1) * dilation + 1
        let total = (output - 1) * stride + effective - input
        return max(total, 0) / 2
    }

    /// Output size and leading padding of one spatial dimension, as TFLite's `ComputePaddingHeightWidth`.
    static func window(_ padding: Padding, input: Int, filter: Int, stride: Int, dilation: Int,
                       dimension: String) throws -> (output: Int, padding: Int) {
        let output = outputSize(padding, input: input, filter: filter, stride: stride, dilation: dilation)
        guard output >= 0 else {
            throw KernelError("VALID padding: the \(dimension) window (\((filter - 1) * dilation + 1) with dilation) is wider than the input (\(input))")
        }
        return (output, leadingPadding(stride: stride, dilation: dilation, input: input, filter: filter, output: output))
    }

    /// Stride, dilation and filter options must be positive (TFLite checks strides and dilations; a zero filter has
    /// no elements to pool).
    static func requirePositive(_ values: [(String, Int)]) throws {
        for (name, v) in values where v <= 0 {
            throw KernelError("\(name) must be positive, got \(v)")
        }
    }

    // MARK: Types and quantization

    /// The representable range of a quantized integer type, as Int32.
    static func integerRange(_ type: TensorType) -> (min: Int32, max: Int32) {
        switch type {
        case .uint8: return (0, 255)
        case .int8: return (-128, 127)
        case .int16: return (-32768, 32767)
        default: return (Int32.min, Int32.max)
        }
    }

    /// The single scale and zero point of a per-tensor quantized activation (`uint8`/`int8`); the scale must be
    /// positive and finite and the zero point representable in the type.
    static func perTensorQuantization(_ t: TensorInfo, _ role: String) throws -> (scale: Float, zeroPoint: Int32) {
        guard let q = t.quantization, !q.scales.isEmpty else {
            throw KernelError("\(role) (\(t.type)) has no quantization parameters")
        }
        guard q.scales.count == 1 else {
            throw KernelError("\(role) (\(t.type)) must be quantized per tensor, got \(q.scales.count) scales")
        }
        let scale = q.scales[0]
        guard scale > 0, scale.isFinite else { throw KernelError("\(role) has invalid scale \(scale)") }
        let zeroPoint = q.zeroPoints.first ?? 0
        let (lo, hi) = integerRange(t.type)
        guard zeroPoint >= Int64(lo), zeroPoint <= Int64(hi) else {
            throw KernelError("\(role) zero point \(zeroPoint) is outside the \(t.type) range")
        }
        return (scale, Int32(zeroPoint))
    }

    /// Scales of a filter quantized per tensor (one scale) or per channel (`channels` scales along `axis`), as
    /// TFLite's `PopulateConvolutionQuantizationParams` accepts them; returns one scale per output channel and the
    /// per-tensor zero point. Per-channel quantization is int8 only and needs all zero points 0 (symmetric);
    /// `symmetric` demands zero points of 0 for per-tensor int8 filters too.
    static func filterQuantization(_ filter: TensorInfo, channels: Int, axis: Int, symmetric: Bool) throws
        -> (scales: [Float], zeroPoint: Int32) {
        guard let q = filter.quantization, !q.scales.isEmpty else {
            throw KernelError("filter (\(filter.type)) has no quantization parameters")
        }
        for s in q.scales where !(s > 0 && s.isFinite) {
            throw KernelError("filter has invalid scale \(s)")
        }
        let (lo, hi) = integerRange(filter.type)
        for z in q.zeroPoints where z < Int64(lo) || z > Int64(hi) {
            throw KernelError("filter zero point \(z) is outside the \(filter.type) range")
        }
        if q.scales.count == 1 {
            let zeroPoint = Int32(q.zeroPoints.first ?? 0)
            if symmetric && zeroPoint != 0 {
                throw KernelError("int8 filter must be symmetric (zero point 0), got zero point \(zeroPoint)")
            }
            return ([Float](repeating: q.scales[0], count: channels), zeroPoint)
        }
        guard filter.type == .int8 else {
            throw KernelError("per-channel quantization of a \(filter.type) filter is not supported (TFLite allows it for int8 only)")
        }
        guard q.scales.count == channels else {
            throw KernelError("filter has \(q.scales.count) scales for \(channels) output channels")
        }
        guard q.quantizedDimension == axis else {
            throw KernelError("per-channel filter must be quantized along dimension \(axis), got \(q.quantizedDimension)")
        }
        guard q.zeroPoints.allSatisfy({ $0 == 0 }) else {
            throw KernelError("per-channel int8 filter must be symmetric (all zero points 0)")
        }
        return (q.scales, 0)
    }

    /// TFLite's check in `GetQuantizedConvolutionMultipler`: the bias scale must match input scale × filter scale to
    /// within 2% of the output scale.
    static func checkBiasScale(_ bias: TensorInfo?, inputScale: Float, filterScale: Float, outputScale: Float) throws {
        guard let bias else { return }
        let product = Double(inputScale) * Double(filterScale)
        let difference = abs(product - Double(bias.scale))
        guard difference / Double(outputScale) <= 0.02 else {
            throw KernelError("bias scale \(bias.scale) differs from input scale × filter scale (\(product)) by more than 2% of the output scale")
        }
    }

    /// Per-channel fixed-point multipliers `input_scale * filter_scale / output_scale`, split by `QuantizeMultiplier`.
    ///
    /// int8 follows `PopulateConvolutionQuantizationParams`: the product in double. uint8 (`productInFloat`) follows
    /// the legacy `GetQuantizedConvolutionMultipler` that LiteRT still uses for uint8: the product of the two float
    /// scales is rounded to float before the division in double. The two differ in the multiplier's low bits, which
    /// changes a rounding now and then.
    static func channelMultipliers(inputScale: Float, filterScales: [Float], outputScale: Float,
                                   productInFloat: Bool = false) -> (multipliers: [Int32], shifts: [Int]) {
        var multipliers: [Int32] = [], shifts: [Int] = []
        multipliers.reserveCapacity(filterScales.count)
        shifts.reserveCapacity(filterScales.count)
        for s in filterScales {
            let product = productInFloat ? Double(inputScale * s) : Double(inputScale) * Double(s)
            let real = product / Double(outputScale)
            let (m, shift) = QuantizedArithmetic.quantizeMultiplier(real)
            multipliers.append(m)
            shifts.append(shift)
        }
        return (multipliers, shifts)
    }

    /// The float requantization scales `input_scale * filter_scale / output_scale`, each product and quotient in
    /// float32 (as XNNPACK computes them), or nil when one lies outside [2^-32, 256): XNNPACK's fp32 requantization
    /// takes no other, and such a layer keeps TFLite's fixed-point arithmetic.
    static func floatScales(inputScale: Float, filterScales: [Float], outputScale: Float) -> [Float]? {
        let scales = filterScales.map { inputScale * $0 / outputScale }
        return scales.allSatisfy { $0 >= 0x1p-32 && $0 < 256 } ? scales : nil
    }

    /// TFLite's `CalculateActivationRangeQuantized`: `zero_point + round(f / scale)` in float for the activation's
    /// bounds, within the type's range. Unlike `QuantizedArithmetic.activationRange` it cannot trap: a bound beyond
    /// Int32 (a vanishing scale) saturates.
    static func quantizedActivationRange(_ activation: FusedActivationKind, scale: Float, zeroPoint: Int32,
                                         type: TensorType) -> (min: Int32, max: Int32) {
        let (qmin, qmax) = integerRange(type)
        func quantize(_ f: Float) -> Int32 {
            let r = (f / scale).rounded(.toNearestOrAwayFromZero)
            let q: Int32 = r.isNaN ? 0 : (r >= 2_147_483_520 ? Int32.max : (r <= -2_147_483_648 ? Int32.min : Int32(r)))
            let (sum, overflow) = zeroPoint.addingReportingOverflow(q)
            return overflow ? (q > 0 ? Int32.max : Int32.min) : sum
        }
        switch activation {
        case .none: return (qmin, qmax)
        case .relu: return (max(qmin, quantize(0)), qmax)
        case .relu6: return (max(qmin, quantize(0)), min(qmax, quantize(6)))
        case .reluN1To1: return (max(qmin, quantize(-1)), min(qmax, quantize(1)))
        }
    }

    // MARK: Arithmetic as the C++ reference writes it

    /// `std::min(std::max(x, lo), hi)` (TFLite's `ActivationFunctionWithMinMax`): keeps NaN and the sign of a zero
    /// exactly as the C++ does (`std::max(a, b)` is `a < b ? b : a`).
    @inline(__always)
    static func clamp(_ x: Float, _ lo: Float, _ hi: Float) -> Float {
        let t = x < lo ? lo : x
        return hi < t ? hi : t
    }

    /// `static_cast<int32_t>(round(v))` with `round` half away from zero; out-of-range values saturate instead of
    /// being undefined behaviour.
    @inline(__always)
    static func roundToInt32(_ v: Double) -> Int32 {
        let r = v.rounded(.toNearestOrAwayFromZero)
        if r.isNaN { return 0 }
        if r >= 2_147_483_647 { return Int32.max }
        if r <= -2_147_483_648 { return Int32.min }
        return Int32(r)
    }
}

/// The spatial arithmetic of one 2-D convolution or pooling window over an NHWC tensor.
struct ConvolutionGeometry {
    var batches = 0, inputHeight = 0, inputWidth = 0, inputDepth = 0
    var filterHeight = 0, filterWidth = 0
    /// Input channels each filter sees (CONV_2D's filter depth; the input depth divided by the groups).
    var filterDepth = 1
    var outputHeight = 0, outputWidth = 0, outputDepth = 0
    var strideHeight = 1, strideWidth = 1
    var dilationHeight = 1, dilationWidth = 1
    var padHeight = 0, padWidth = 0

    /// A 1x1, stride-1, unpadded window: output pixel m reads exactly input pixel m, so a GEMM can use the NHWC
    /// input as its A matrix without an im2col copy.
    var isPointwise: Bool {
        filterHeight == 1 && filterWidth == 1 && strideHeight == 1 && strideWidth == 1 && padHeight == 0 && padWidth == 0
    }

    /// Computes output size and padding for an `[N, H, W, C]` input and an `H × W` window.
    init(input: [Int], filterHeight: Int, filterWidth: Int, outputDepth: Int, padding: Padding,
         strideHeight: Int, strideWidth: Int, dilationHeight: Int = 1, dilationWidth: Int = 1) throws {
        batches = input[0]; inputHeight = input[1]; inputWidth = input[2]; inputDepth = input[3]
        self.filterHeight = filterHeight; self.filterWidth = filterWidth
        self.outputDepth = outputDepth
        self.strideHeight = strideHeight; self.strideWidth = strideWidth
        self.dilationHeight = dilationHeight; self.dilationWidth = dilationWidth
        (outputHeight, padHeight) = try ConvolutionSupport.window(padding, input: inputHeight, filter: filterHeight,
                                                                  stride: strideHeight, dilation: dilationHeight,
                                                                  dimension: "height")
        (outputWidth, padWidth) = try ConvolutionSupport.window(padding, input: inputWidth, filter: filterWidth,
                                                                stride: strideWidth, dilation: dilationWidth,
                                                                dimension: "width")
    }

    var outputShape: [Int] { [batches, outputHeight, outputWidth, outputDepth] }
}

/// What AVERAGE_POOL_2D and MAX_POOL_2D share: TFLite's `pooling.cc` GenericPrepare (4-D input, same type out,
/// positive strides and filter, the window arithmetic without dilation) and the clamp range of the fused activation.
struct PoolingSetup {
    let geometry: ConvolutionGeometry
    let input: Int, output: Int
    let type: TensorType
    /// Clamp range for float32 outputs.
    let floatMin: Float, floatMax: Float
    /// Clamp range for quantized outputs.
    let quantizedMin: Int32, quantizedMax: Int32

    /// Validates the operator and sets the output shape. Quantized pooling needs the output quantized like the input
    /// (TFLite only debug-checks this and otherwise copies the integers unchanged, so Magpie refuses the mismatch).
    init(_ context: inout PrepareContext) throws {
        try context.requireCounts(inputs: 1...1, outputs: 1)
        guard case let .pool2D(options) = context.op.options else {
            throw KernelError("\(context.code.builtin.name) needs Pool2DOptions, got \(context.op.options)")
        }
        let input = try context.input(0), output = try context.output(0)
        try context.require(input.rank == 4, "input must be 4-D (NHWC), got shape \(input.shape)")
        try context.require([.float32, .uint8, .int8].contains(input.type),
                            "input type \(input.type) is not supported (float32, uint8 or int8)")
        try context.require(output.type == input.type, "output type \(output.type) differs from input type \(input.type)")
        try ConvolutionSupport.requirePositive([("stride_h", options.strideHeight), ("stride_w", options.strideWidth),
                                                ("filter_h", options.filterHeight), ("filter_w", options.filterWidth)])
        let activation = try options.activation.kind()
        geometry = try ConvolutionGeometry(input: input.shape, filterHeight: options.filterHeight,
                                           filterWidth: options.filterWidth, outputDepth: input.shape[3],
                                           padding: options.padding, strideHeight: options.strideHeight,
                                           strideWidth: options.strideWidth)
        try context.setOutputShape(0, geometry.outputShape)
        self.input = context.op.inputs[0]
        self.output = try context.outputIndex(0)
        type = input.type
        (floatMin, floatMax) = QuantizedArithmetic.activationRange(activation)
        if input.type == .float32 {
            (quantizedMin, quantizedMax) = (0, 0)
        } else {
            let (inputScale, inputZeroPoint) = try ConvolutionSupport.perTensorQuantization(input, "input")
            let (outputScale, outputZeroPoint) = try ConvolutionSupport.perTensorQuantization(output, "output")
            try context.require(abs(inputScale - outputScale) <= 1e-6 && inputZeroPoint == outputZeroPoint,
                                "output quantization (\(outputScale), \(outputZeroPoint)) must equal the input's (\(inputScale), \(inputZeroPoint))")
            (quantizedMin, quantizedMax) = ConvolutionSupport.quantizedActivationRange(
                activation, scale: outputScale, zeroPoint: outputZeroPoint, type: output.type)
        }
    }

    /// The window of output `(oy, ox)` clamped to the input, as the reference kernels compute it:
    /// rows `yStart..<yEnd` and columns `xStart..<xEnd` of the input.
    @inline(__always)
    func window(_ oy: Int, _ ox: Int) -> (yStart: Int, yEnd: Int, xStart: Int, xEnd: Int) {
        let g = geometry
        let originY = oy * g.strideHeight - g.padHeight
        let originX = ox * g.strideWidth - g.padWidth
        let fyStart = max(0, -originY), fyEnd = min(g.filterHeight, g.inputHeight - originY)
        let fxStart = max(0, -originX), fxEnd = min(g.filterWidth, g.inputWidth - originX)
        return (originY + fyStart, originY + max(fyEnd, fyStart), originX + fxStart, originX + max(fxEnd, fxStart))
    }
}
