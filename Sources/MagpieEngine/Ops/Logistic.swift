import Foundation
import MagpieModel

/// LOGISTIC (sigmoid), following LiteRT's reference kernel (`SigmoidPrepare/SigmoidEval<kReference>`):
/// float32 computes `1 / (1 + expf(-x))`, except `expf(x)` below -9 and exactly 1 above 16.619047 (the cutoffs
/// LiteRT 2.3.0's `reference_ops::Logistic` uses; NaN passes through); uint8/int8 use
/// TFLite's 256-entry float lookup table (`LUTPopulate`), and require the output scale 1/256 as LiteRT does.
enum Logistic {
    struct FloatOperation: Elementwise.UnaryOperation {
        @inline(__always) func apply(_ x: Float) -> Float {
            if x > 16.619047164916992188 { return 1 }
            if x < -9 { return expf(x) }
            return 1 / (1 + expf(-x))
        }
    }

    /// The transform LiteRT tabulates for 8-bit inputs.
    static func sigmoid(_ x: Float) -> Float { 1 / (1 + expf(-x)) }

    static let registration = OperatorRegistration(.logistic) { context in
        try Elementwise.prepareActivation("LOGISTIC", &context, float: FloatOperation()) { x, out, context in
            try context.require(Double(out.scale) == 1.0 / 256, "quantized output scale must be 1/256, got \(out.scale)")
            return sigmoid
        }
    }
}
