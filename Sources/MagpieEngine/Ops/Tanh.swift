import Foundation
import MagpieModel

/// TANH, following LiteRT's reference kernel (`TanhPrepare/TanhEval<kReference>`): float32 computes `tanhf`;
/// uint8/int8 use TFLite's 256-entry float lookup table (`LUTPopulate` of `tanhf`) for any output scale.
enum Tanh {
    struct FloatOperation: Elementwise.UnaryOperation {
        @inline(__always) func apply(_ x: Float) -> Float { tanhf(x) }
    }

    static func transform(_ x: Float) -> Float { tanhf(x) }

    static let registration = OperatorRegistration(.tanh) { context in
        try Elementwise.prepareActivation("TANH", &context, float: FloatOperation()) { _, _, _ in transform }
    }
}
