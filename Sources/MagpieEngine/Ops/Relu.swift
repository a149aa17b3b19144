import MagpieModel

/// RELU: `max(0, x)` for float32; uint8/int8 requantize from the input to the output quantization
/// (`MultiplyByQuantizedMultiplier` by `inputScale / outputScale`) and clamp at the quantized zero, as LiteRT's
/// `ReluEval`/`QuantizedReluX`.
enum Relu {
    struct FloatOperation: Elementwise.UnaryOperation {
        @inline(__always) func apply(_ x: Float) -> Float { x < 0 ? 0 : x }
    }

    static let registration = OperatorRegistration(.relu) { context in
        try Elementwise.prepareRelu("RELU", &context, float: FloatOperation(), lower: 0, upper: .infinity)
    }
}
