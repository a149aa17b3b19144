import MagpieModel

/// RESIZE_BILINEAR: bilinear resampling of NHWC images to the constant int32 size `[new_height, new_width]`,
/// following LiteRT's `resize_bilinear.cc` under BUILTIN_REF:
/// - float32 and uint8 run `reference_ops::ResizeBilinear<T>`: float source coordinates and weights; uint8 adds
///   0.5 before truncating to the type (round half up for the non-negative results).
/// - int8 runs `reference_ops::ResizeBilinearInteger`: 10-bit fixed-point coordinates, a 20-bit fixed-point
///   weighted sum, rounded half away from zero (the default double-rounding build).
/// `align_corners` maps corner pixels onto each other (scale `(in-1)/(out-1)`); `half_pixel_centers` samples at
/// pixel centers; both together are refused. The values are resampled in the input's quantized domain (TFLite
/// does not rescale to the output's quantization).
enum ResizeBilinear {
    static let supportedTypes: [TensorType] = [.float32, .uint8, .int8]

    static let registration = OperatorRegistration(.resizeBilinear) { context in
        guard case let .resize(alignCorners, halfPixelCenters) = context.op.options else {
            throw KernelError("missing ResizeBilinearOptions")
        }
        let g = try ResizeGeometry.prepare(&context, supportedTypes: supportedTypes)
        try context.require(!(alignCorners && halfPixelCenters), "If half_pixel_centers is True, align_corners must be False.")
        let (source, destination) = (context.op.inputs[0], try context.outputIndex(0))
        switch try context.input(0).type {
        case .float32:
            return ResizeBilinearFloatKernel<Float>(source: source, destination: destination, g: g,
                                                    alignCorners: alignCorners, halfPixelCenters: halfPixelCenters)
        case .uint8:
            return ResizeBilinearFloatKernel<UInt8>(source: source, destination: destination, g: g,
                                                    alignCorners: alignCorners, halfPixelCenters: halfPixelCenters)
        default:
            return ResizeBilinearIntegerKernel<Int8>(source: source, destination: destination, g: g,
                                                     alignCorners: alignCorners, halfPixelCenters: halfPixelCenters)
        }
    }
}

/// Input and output geometry shared by the two RESIZE operators.
struct ResizeGeometry {
    let batches: Int, inputHeight: Int, inputWidth: Int, depth: Int, outputHeight: Int, outputWidth: Int

    /// Validates a RESIZE_* operator (4-D input, constant int32 `[2]` size) and sets its output shape.
    static func prepare(_ context: inout PrepareContext, supportedTypes: [TensorType]) throws -> ResizeGeometry {
        try context.requireCounts(inputs: 2...2, outputs: 1)
        let input = try context.input(0)
        let size = try context.input(1)
        let output = try context.output(0)
        try ShapeSupport.requireType(context, input.type, in: supportedTypes)
        try context.require(output.type == input.type, "output type \(output.type) differs from input type \(input.type)")
        try context.require(input.rank == 4, "input must be 4-D (NHWC), got shape \(input.shape)")
        try context.require(size.type == .int32, "size must be int32, got \(size.type)")
        try context.require(size.rank == 1 && size.shape[0] == 2, "size must have shape [2], got \(size.shape)")
        guard let hw = try context.constantValues(1, as: Int32.self) else {
            throw KernelError("an output size computed at run time is not supported (it must be a constant tensor)")
        }
        try context.require(hw[0] > 0 && hw[1] > 0, "output size \(hw) must be positive")
        let g = ResizeGeometry(batches: input.shape[0], inputHeight: input.shape[1], inputWidth: input.shape[2],
                               depth: input.shape[3], outputHeight: Int(hw[0]), outputWidth: Int(hw[1]))
        try context.setOutputShape(0, [g.batches, g.outputHeight, g.outputWidth, g.depth])
        return g
    }
}

/// Element types `reference_ops::ResizeBilinear<T>` handles: converted to float for the weighted sum and back
/// with `static_cast<T>` after adding the rounding offset (0.5 for integers, 0 for float).
protocol BilinearFloatElement {
    var floatValue: Float { get }
    static var roundingOffset: Float { get }
    static func fromFloat(_ f: Float) -> Self
}

extension Float: BilinearFloatElement {
    var floatValue: Float { self }
    static var roundingOffset: Float { 0 }
    static func fromFloat(_ f: Float) -> Float { f }
}

extension UInt8: BilinearFloatElement {
    var floatValue: Float { Float(self) }
    static var roundingOffset: Float { 0.5 }
    /// `static_cast<uint8_t>(float)`: truncation (x86 converts through int32 and keeps the low byte).
    static func fromFloat(_ f: Float) -> UInt8 { UInt8(truncatingIfNeeded: ShapeSupport.truncatingToInt32(f)) }
}

/// `reference_ops::ResizeBilinear<T>`, float arithmetic in TFLite's exact operation order.
final class ResizeBilinearFloatKernel<T: BilinearFloatElement>: Kernel {
    let source: Int, destination: Int
    let g: ResizeGeometry
    let heightScale: Float, widthScale: Float
    let halfPixelCenters: Bool

    init(source: Int, destination: Int, g: ResizeGeometry, alignCorners: Bool, halfPixelCenters: Bool) {
        self.source = source
        self.destination = destination
        self.g = g
        self.halfPixelCenters = halfPixelCenters
        var hs = Float(g.inputHeight) / Float(g.outputHeight)
        var ws = Float(g.inputWidth) / Float(g.outputWidth)
        if alignCorners && g.outputHeight > 1 { hs = Float(g.inputHeight - 1) / Float(g.outputHeight - 1) }
        if alignCorners && g.outputWidth > 1 { ws = Float(g.inputWidth - 1) / Float(g.outputWidth - 1) }
        heightScale = hs
        widthScale = ws
    }

    /// `ComputeInterpolationValues` (float): the source coordinate and its two neighbouring pixels.
    @inline(__always)
    static func interpolation(_ value: Int, _ scale: Float, _ halfPixelCenters: Bool, _ size: Int) -> (Float, Int, Int) {
        let scaled = halfPixelCenters ? (Float(value) + 0.5) * scale - 0.5 : Float(value) * scale
        let lower = max(Int(ShapeSupport.truncatingToInt32(scaled.rounded(.down))), 0)
        let upper = min(Int(ShapeSupport.truncatingToInt32(scaled.rounded(.up))), size - 1)
        return (scaled, lower, upper)
    }

    @_specialize(where T == UInt8)
    @_specialize(where T == Float)
    func invoke(_ t: TensorBuffers) throws {
        let input = t.pointer(source, as: T.self)
        let output = t.pointer(destination, as: T.self)
        let depth = g.depth
        let rowStride = g.inputWidth * depth, batchStride = g.inputHeight * rowStride
        var o = 0
        for b in 0..<g.batches {
            let base = b * batchStride
            for y in 0..<g.outputHeight {
                let (inputY, y0, y1) = Self.interpolation(y, heightScale, halfPixelCenters, g.inputHeight)
                let dy = inputY - Float(y0)
                for x in 0..<g.outputWidth {
                    let (inputX, x0, x1) = Self.interpolation(x, widthScale, halfPixelCenters, g.inputWidth)
                    let dx = inputX - Float(x0)
                    let p00 = base + y0 * rowStride + x0 * depth, p10 = base + y1 * rowStride + x0 * depth
                    let p01 = base + y0 * rowStride + x1 * depth, p11 = base + y1 * rowStride + x1 * depth
                    for c in 0..<depth {
                        // Each term is evaluated left to right, then the terms are summed in order.
                        let t00 = input[p00 + c].floatValue * (1 - dy) * (1 - dx)
                        let t10 = input[p10 + c].floatValue * dy * (1 - dx)
                        let t01 = input[p01 + c].floatValue * (1 - dy) * dx
                        let t11 = input[p11 + c].floatValue * dy * dx
                        output[o] = T.fromFloat(t00 + t10 + t01 + t11 + T.roundingOffset)
                        o += 1
                    }
                }
            }
        }
    }
}

/// `reference_ops::ResizeBilinearInteger<T>`: 10-bit fixed-point coordinates and weights.
final class ResizeBilinearIntegerKernel<T: FixedWidthInteger & SignedInteger>: Kernel {
    let source: Int, destination: Int
    let g: ResizeGeometry
    let heightScale10: Int32, widthScale10: Int32
    let halfPixelCenters: Bool

    init(source: Int, destination: Int, g: ResizeGeometry, alignCorners: Bool, halfPixelCenters: Bool) {
        self.source = source
        self.destination = destination
        self.g = g
        self.halfPixelCenters = halfPixelCenters
        let (ih, iw, oh, ow) = (Int32(g.inputHeight), Int32(g.inputWidth), Int32(g.outputHeight), Int32(g.outputWidth))
        var hs = ((1 << 10) &* ih &+ oh / 2) / oh
        var ws = ((1 << 10) &* iw &+ ow / 2) / ow
        if alignCorners && oh > 1 { hs = ((1 << 10) &* (ih - 1) &+ (oh - 1) / 2) / (oh - 1) }
        if alignCorners && ow > 1 { ws = ((1 << 10) &* (iw - 1) &+ (ow - 1) / 2) / (ow - 1) }
        heightScale10 = hs
        widthScale10 = ws
    }

    /// `ComputeInterpolationValuesInteger`: C++ division truncates toward zero, as Swift's does.
    @inline(__always)
    static func interpolation(_ value: Int32, _ scale10: Int32, _ halfPixelCenters: Bool, _ size: Int32) -> (Int32, Int32, Int32) {
        let scaled = halfPixelCenters ? value &* scale10 &+ scale10 / 2 &- (1 << 9) : value &* scale10
        let lower = max(scaled / (1 << 10), 0)
        let upper = min((scaled &+ (1 << 10) &- 1) / (1 << 10), size - 1)
        return (scaled, lower, upper)
    }

    @_specialize(where T == Int8)
    func invoke(_ t: TensorBuffers) throws {
        let input = t.pointer(source, as: T.self)
        let output = t.pointer(destination, as: T.self)
        let depth = g.depth
        let rowStride = g.inputWidth * depth, batchStride = g.inputHeight * rowStride
        let one: Int64 = 1 << 10
        var o = 0
        for b in 0..<g.batches {
            let base = b * batchStride
            for y in 0..<g.outputHeight {
                let (inputY, y0, y1) = Self.interpolation(Int32(y), heightScale10, halfPixelCenters, Int32(g.inputHeight))
                let wy = Int64(inputY) - one * Int64(y0)
                for x in 0..<g.outputWidth {
                    let (inputX, x0, x1) = Self.interpolation(Int32(x), widthScale10, halfPixelCenters, Int32(g.inputWidth))
                    let wx = Int64(inputX) - one * Int64(x0)
                    let p00 = base + Int(y0) * rowStride + Int(x0) * depth, p10 = base + Int(y1) * rowStride + Int(x0) * depth
                    let p01 = base + Int(y0) * rowStride + Int(x1) * depth, p11 = base + Int(y1) * rowStride + Int(x1) * depth
                    for c in 0..<depth {
                        let sum = Int64(input[p00 + c]) * (one - wy) * (one - wx)
                            + Int64(input[p10 + c]) * wy * (one - wx)
                            + Int64(input[p01 + c]) * (one - wy) * wx
                            + Int64(input[p11 + c]) * wy * wx
                        // Round half away from zero, divide truncating toward zero.
                        let round: Int64 = sum > 0 ? (1 << 19) : -(1 << 19)
                        output[o] = T(truncatingIfNeeded: (sum + round) / (1 << 20))
                        o += 1
                    }
                }
            }
        }
    }
}
