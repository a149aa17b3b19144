import MagpieModel

/// ADD: elementwise sum with TFLite broadcasting (up to 6-D) and a fused activation, following LiteRT's reference
/// `add.cc`: float32 (clamped to ±FLT_MAX), wrapping int32/int64, and uint8/int8 with the 20-bit left-shift
/// rescaling of both inputs by multipliers derived from `2 * max(scale1, scale2)`.
enum Add {
    static let registration = OperatorRegistration(.add) { context in
        try Elementwise.prepareArithmetic(.add, &context)
    }
}
