import MagpieModel

/// MUL: elementwise product with TFLite broadcasting (up to 6-D) and a fused activation, following LiteRT's
/// reference `mul.cc`: float32, wrapping int32/int64, and uint8/int8 requantized by the single multiplier
/// `scale1 * scale2 / scaleOut` (computed in float, as TFLite does).
enum Mul {
    static let registration = OperatorRegistration(.mul) { context in
        try Elementwise.prepareArithmetic(.mul, &context)
    }
}
