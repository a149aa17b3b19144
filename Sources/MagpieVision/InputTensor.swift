import MagpieEngine
import MagpieModel

/// The type, shape and quantization of one model tensor: what pre- and post-processing need to know.
public struct TensorSpec: Sendable, Equatable {
    /// Element type.
    public var type: TensorType
    /// Dimensions, row-major (NHWC for images).
    public var shape: [Int]
    /// Scale and zero point of a quantized tensor; nil when it is not quantized.
    public var quantization: QuantizationParameters?

    /// Creates a spec.
    ///
    /// - Parameters:
    ///   - type: element type.
    ///   - shape: dimensions, row-major.
    ///   - quantization: scale and zero point of a quantized tensor, nil otherwise.
    public init(type: TensorType, shape: [Int], quantization: QuantizationParameters? = nil) {
        self.type = type
        self.shape = shape
        self.quantization = quantization
    }

    /// The spec of an interpreter tensor.
    ///
    /// - Parameter info: from `Interpreter.inputInfo(at:)` or `outputInfo(at:)`.
    public init(_ info: TensorInfo) {
        self.init(type: info.type, shape: info.shape, quantization: info.quantization)
    }

    /// Number of elements, or nil when a dimension is negative or the product overflows.
    public var elementCount: Int? {
        var n = 1
        for d in shape {
            guard d >= 0 else { return nil }
            let (p, overflow) = n.multipliedReportingOverflow(by: d)
            guard !overflow else { return nil }
            n = p
        }
        return n
    }

    /// The per-tensor scale and zero point, or nil when the tensor is not quantized (no scale, or a zero scale).
    ///
    /// - Throws: `VisionError.unsupportedTensor` for per-channel quantization, which images and scores never use.
    public func perTensorQuantization() throws -> (scale: Float, zeroPoint: Int)? {
        guard let q = quantization, let scale = q.scales.first, scale != 0 else { return nil }
        guard !q.isPerChannel else {
            throw VisionError.unsupportedTensor("per-channel quantization (\(q.scales.count) scales) is not supported here")
        }
        return (scale, q.zeroPoint)
    }

    /// The height and width of an image input: shape `[1, H, W, 3]` (or `[H, W, 3]`).
    ///
    /// - Throws: `VisionError.unsupportedTensor` for any other shape.
    public func imageSize() throws -> (width: Int, height: Int) {
        let s = shape.count == 4 ? shape : shape.count == 3 ? [1] + shape : []
        guard s.count == 4, s[0] == 1, s[1] > 0, s[2] > 0, s[3] == 3 else {
            throw VisionError.unsupportedTensor("input shape \(shape) is not an RGB image [1, height, width, 3]")
        }
        return (s[2], s[1])
    }
}

/// Per-channel normalisation of a float input: `(pixel - mean) / std`, pixel in 0...255.
///
/// This is what TFLite model metadata calls `NormalizationOptions`. One value applies to all three channels;
/// three values apply to R, G and B.
public struct InputNormalization: Sendable, Equatable {
    /// Subtracted from each 0...255 channel value: one value, or R, G, B.
    public var mean: [Float]
    /// Divides the centred value: one value, or R, G, B.
    public var std: [Float]

    /// Creates a normalisation.
    ///
    /// - Parameters:
    ///   - mean: one value, or one per channel (R, G, B).
    ///   - std: one value, or one per channel; must not be zero.
    public init(mean: [Float], std: [Float]) {
        self.mean = mean
        self.std = std
    }

    /// Maps 0...255 to -1...1: `(x - 127.5) / 127.5`. The default for float inputs without metadata.
    public static let symmetric = InputNormalization(mean: [127.5], std: [127.5])

    /// The mean and standard deviation of each of the three channels.
    ///
    /// - Throws: `VisionError.invalidArgument` when an array does not hold 1 or 3 values or a std is zero or not finite.
    public func perChannel() throws -> (mean: [Float], std: [Float]) {
        func expand(_ values: [Float], _ name: String) throws -> [Float] {
            switch values.count {
            case 1: return [values[0], values[0], values[0]]
            case 3: return values
            default: throw VisionError.invalidArgument("normalisation \(name) needs 1 or 3 values, got \(values.count)")
            }
        }
        let m = try expand(mean, "mean"), s = try expand(std, "std")
        guard s.allSatisfy({ $0 != 0 && $0.isFinite }), m.allSatisfy(\.isFinite) else {
            throw VisionError.invalidArgument("normalisation mean \(mean) / std \(std) is not usable")
        }
        return (m, s)
    }
}

/// Writes an image into a model's input tensor.
///
/// The mapping follows the reference goldens (and the TFLite task library):
/// - `uint8`: the raw pixel values.
/// - `int8`: pixel − 128 (what a model trained on 0...255 expects after full-integer quantization; the
///   input's own scale and zero point are not used, as in the goldens).
/// - `float32`: `(pixel - mean) / std` per channel, from `normalization` when given (model metadata), else
///   `(pixel - 127.5) / 127.5`.
///
/// `normalization` is ignored for quantized (`uint8`, `int8`) inputs: the quantization already encodes it.
///
/// - Parameters:
///   - image: the image, already resized to the tensor's width and height.
///   - spec: the input tensor: `[1, H, W, 3]` of `uint8`, `int8` or `float32`.
///   - normalization: metadata normalisation for float inputs, nil for the default.
///   - buffer: the tensor's bytes (little-endian host); exactly `H * W * 3 * elementSize` bytes.
/// - Throws: `VisionError.unsupportedTensor` for another shape or type, `VisionError.invalidArgument` when
///   the image size or buffer size does not match or the normalisation is unusable.
public func fillInput(_ image: RGBImage, spec: TensorSpec, normalization: InputNormalization? = nil,
                      into buffer: UnsafeMutableRawBufferPointer) throws {
    let (width, height) = try spec.imageSize()
    guard image.width == width, image.height == height else {
        throw VisionError.invalidArgument("image is \(image.width)x\(image.height) but the input tensor needs \(width)x\(height); resize it first")
    }
    let count = width * height * 3
    let elementSize: Int
    switch spec.type {
    case .uint8, .int8: elementSize = 1
    case .float32: elementSize = 4
    default: throw VisionError.unsupportedTensor("image input of type \(spec.type) is not supported (uint8, int8 or float32)")
    }
    guard buffer.count == count * elementSize else {
        throw VisionError.invalidArgument("input buffer has \(buffer.count) bytes, expected \(count * elementSize)")
    }
    image.pixels.withUnsafeBufferPointer { pixels in
        switch spec.type {
        case .uint8:
            buffer.copyMemory(from: UnsafeRawBufferPointer(pixels))
        case .int8:
            let out = buffer.bindMemory(to: Int8.self)
            for i in 0..<count { out[i] = Int8(truncatingIfNeeded: Int(pixels[i]) - 128) }
        default:
            break
        }
    }
    guard spec.type == .float32 else { return }
    let (mean, std) = try (normalization ?? .symmetric).perChannel()
    image.pixels.withUnsafeBufferPointer { pixels in
        for i in 0..<count {
            let c = i % 3
            let value = (Float(pixels[i]) - mean[c]) / std[c]
            buffer.storeBytes(of: value, toByteOffset: i * 4, as: Float.self)
        }
    }
}
