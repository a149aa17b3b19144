import MagpieModel

/// RELU_N1_TO_1: clamp to [-1, 1] for float32 (NaN passes through); uint8/int8 requantize and clamp to the
/// quantized [-1, 1], as LiteRT's `Relu1Eval`/`QuantizedReluX`.
enum ReluN1To1 {
    struct FloatOperation: Elementwise.UnaryOperation {
        @inline(__always) func apply(_ x: Float) -> Float { x > 1 ? 1 : (x < -1 ? -1 : x) }
    }

    static let registration = OperatorRegistration(.reluN1To1) { context in
        try Elementwise.prepareRelu("RELU_N1_TO_1", &context, float: FloatOperation(), lower: -1, upper: 1)
    }
}
