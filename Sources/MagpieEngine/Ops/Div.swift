import MagpieModel

/// DIV: elementwise quotient with TFLite broadcasting and a fused activation, following LiteRT's reference `div.cc`:
/// float32 (division by zero gives ±FLT_MAX after the activation clamp), int32 (truncating; a zero divisor fails the
/// invocation) and uint8/int8 through TFLite's fixed-point reciprocal (a divisor equal to its zero point fails).
enum Div {
    static let registration = OperatorRegistration(.div) { context in
        try Elementwise.prepareArithmetic(.div, &context)
    }
}
