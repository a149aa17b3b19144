import MagpieModel

/// TFLite's affine quantization, `real = scale · (q − zeroPoint)`, as the converters apply it.
///
/// Rounding is half away from zero (`Float.rounded()`), as TFLite's `std::round`.
enum Quantizer {
    /// The integer range of an 8-bit activation type.
    static func range(of type: TensorType) -> (min: Int, max: Int) {
        type == .int8 ? (-128, 127) : (0, 255)
    }

    /// Asymmetric per-tensor parameters covering [low, high] widened to include 0 (so that zero, and with it
    /// padding, is exact), with the zero point nudged to an integer as TensorFlow's FakeQuant does.
    static func asymmetric(low: Float, high: Float, type: TensorType) -> QuantizationParameters {
        let (qmin, qmax) = range(of: type)
        let lo = Double(min(low, 0))
        var hi = Double(max(high, 0))
        if hi - lo < 1e-6 { hi = lo + 1e-6 }  // an all-zero tensor still needs a positive scale
        let scale = (hi - lo) / Double(qmax - qmin)
        let zeroPoint = min(max((Double(qmin) - lo / scale).rounded(), Double(qmin)), Double(qmax))
        return QuantizationParameters(scales: [Float(scale)], zeroPoints: [Int64(zeroPoint)])
    }

    /// Per-tensor asymmetric uint8 weights (TF1 quantization-aware training): the range is the weights' own
    /// minimum and maximum, widened to include 0.
    static func uint8PerTensor(_ weights: [Float]) -> (bytes: [UInt8], parameters: QuantizationParameters) {
        var low: Float = 0, high: Float = 0
        for w in weights { low = min(low, w); high = max(high, w) }
        let parameters = asymmetric(low: low, high: high, type: .uint8)
        let scale = parameters.scale, zeroPoint = Float(parameters.zeroPoint)
        var bytes = [UInt8](repeating: 0, count: weights.count)
        weights.withUnsafeBufferPointer { w in
            bytes.withUnsafeMutableBufferPointer { out in
                for i in 0..<w.count {
                    out[i] = UInt8(min(max((w[i] / scale).rounded() + zeroPoint, 0), 255))
                }
            }
        }
        return (bytes, parameters)
    }

    /// Symmetric per-channel int8 weights (TF2 post-training quantization): channel c's scale is max|w| / 127,
    /// values are limited to [-127, 127], zero points are 0. `channelAxis` is 0 for CONV_2D (OHWI) and 3 for
    /// DEPTHWISE_CONV_2D (1HWC), where the channel is the fastest-varying index.
    static func int8PerChannel(_ weights: [Float], channels: Int, channelAxis: Int)
        -> (bytes: [UInt8], parameters: QuantizationParameters) {
        precondition(channelAxis == 0 || channelAxis == 3)
        let perChannel = weights.count / channels
        var maxAbs = [Float](repeating: 0, count: channels)
        weights.withUnsafeBufferPointer { w in
            for i in 0..<w.count {
                let c = channelAxis == 0 ? i / perChannel : i % channels
                maxAbs[c] = max(maxAbs[c], abs(w[i]))
            }
        }
        let scales = maxAbs.map { $0 > 0 ? $0 / 127 : 1 }
        var bytes = [UInt8](repeating: 0, count: weights.count)
        weights.withUnsafeBufferPointer { w in
            bytes.withUnsafeMutableBufferPointer { out in
                for i in 0..<w.count {
                    let c = channelAxis == 0 ? i / perChannel : i % channels
                    let q = min(max((w[i] / scales[c]).rounded(), -127), 127)
                    out[i] = UInt8(bitPattern: Int8(q))
                }
            }
        }
        return (bytes, QuantizationParameters(scales: scales, zeroPoints: [Int64](repeating: 0, count: channels),
                                              quantizedDimension: channelAxis))
    }

    /// int32 biases with scale `inputScale × weightScale` (per channel when there are several weight scales), zero
    /// point 0, as every TFLite integer convolution requires.
    static func int32Bias(_ bias: [Float], inputScale: Float, weightScales: [Float]) -> (bytes: [UInt8], parameters: QuantizationParameters) {
        let scales = weightScales.map { inputScale * $0 }
        var values = [Int32](repeating: 0, count: bias.count)
        for c in bias.indices {
            let scale = Double(scales.count == 1 ? scales[0] : scales[c])
            let q = (Double(bias[c]) / scale).rounded()
            values[c] = Int32(min(max(q, Double(Int32.min)), Double(Int32.max)))
        }
        return (littleEndianBytes(values),
                QuantizationParameters(scales: scales, zeroPoints: [Int64](repeating: 0, count: scales.count)))
    }

    /// The little-endian bytes of `values` (every platform Swift runs on is little-endian; checked).
    static func littleEndianBytes<T: BitwiseCopyable>(_ values: [T]) -> [UInt8] {
        precondition(1.littleEndian == 1, "the model writer assumes a little-endian host")
        return values.withUnsafeBytes { Array($0) }
    }
}
