import MagpieModel

/// RELU6: `min(max(0, x), 6)` for float32 (as `std::min(std::max(0.f, x), 6.f)`: NaN becomes 0); uint8/int8
/// requantize and clamp to the quantized [0, 6], as LiteRT's `Relu6Eval`/`QuantizedReluX`.
enum Relu6 {
    struct FloatOperation: Elementwise.UnaryOperation {
        @inline(__always) func apply(_ x: Float) -> Float {
            let low = 0 < x ? x : 0       // std::max(0.f, x)
            return 6 < low ? 6 : low      // std::min(low, 6.f)
        }
    }

    static let registration = OperatorRegistration(.relu6) { context in
        try Elementwise.prepareRelu("RELU6", &context, float: FloatOperation(), lower: 0, upper: 6)
    }
}
