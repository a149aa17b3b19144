import MagpieModel

/// SUB: elementwise difference with TFLite broadcasting (up to 6-D) and a fused activation, following LiteRT's
/// reference `sub.cc`: float32, wrapping int32/int64, and uint8/int8 with the same rescaling as quantized ADD.
enum Sub {
    static let registration = OperatorRegistration(.sub) { context in
        try Elementwise.prepareArithmetic(.sub, &context)
    }
}
