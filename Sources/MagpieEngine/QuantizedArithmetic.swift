import Foundation

/// TFLite's fixed-point arithmetic, bit for bit (the gemmlowp rounding used by LiteRT's reference kernels), and
/// XNNPACK's float requantization (`floatRequantize`).
///
/// A real multiplier `m` is held as `(multiplier, shift)` with `m ≈ multiplier / 2^31 * 2^shift`,
/// `multiplier` in [2^30, 2^31). Positive shifts are left shifts.
public enum QuantizedArithmetic {
    /// Splits a real multiplier into a Q31 multiplier and a power-of-two shift, as TFLite's `QuantizeMultiplier`:
    /// the fraction is rounded half away from zero; a fraction that rounds to 2^31 is halved and the shift raised;
    /// shifts below -31 flush the multiplier to zero.
    public static func quantizeMultiplier(_ realMultiplier: Double) -> (multiplier: Int32, shift: Int) {
        if realMultiplier == 0 { return (0, 0) }
        let (fraction, exponent) = frexpPair(realMultiplier)
        var shift = exponent
        var q = (fraction * Double(1 << 31)).rounded(.toNearestOrAwayFromZero)
        if q == Double(1 << 31) {
            q /= 2
            shift += 1
        }
        if shift < -31 { return (0, 0) }
        if shift > 30 {
            // TFLite clamps at the largest representable multiplier.
            return (Int32.max, 30)
        }
        return (Int32(q), shift)
    }

    private static func frexpPair(_ x: Double) -> (Double, Int) {
        let r = frexp(x)
        return (r.0, r.1)
    }

    /// `(a * b * 2) >> 32`, rounded to nearest with ties away from zero, saturating the one overflow case
    /// (`a == b == Int32.min`). gemmlowp's `SaturatingRoundingDoublingHighMul`.
    @inline(__always)
    public static func saturatingRoundingDoublingHighMul(_ a: Int32, _ b: Int32) -> Int32 {
        if a == b && a == Int32.min { return Int32.max }
        let ab = Int64(a) * Int64(b)
        let nudge: Int64 = ab >= 0 ? (1 << 30) : (1 - (1 << 30))
        // C++ integer division truncates toward zero; Swift's `/` does the same.
        return Int32(truncatingIfNeeded: (ab + nudge) / (1 << 31))
    }

    /// `x / 2^exponent` rounded to nearest, ties away from zero. gemmlowp's `RoundingDivideByPOT`.
    /// - Precondition: `0 <= exponent <= 31`.
    @inline(__always)
    public static func roundingDivideByPowerOfTwo(_ x: Int32, _ exponent: Int) -> Int32 {
        let mask: Int32 = Int32(truncatingIfNeeded: (Int64(1) << exponent) - 1)
        let remainder = x & mask
        let threshold = (mask >> 1) + (x < 0 ? 1 : 0)
        return (x >> Int32(exponent)) + (remainder > threshold ? 1 : 0)
    }

    /// `x * multiplier * 2^shift` with TFLite's double rounding: the left shift first (wrapping like the C++
    /// `x * (1 << left_shift)`), then the rounding high multiply, then the rounding right shift.
    @inline(__always)
    public static func multiplyByQuantizedMultiplier(_ x: Int32, _ multiplier: Int32, _ shift: Int) -> Int32 {
        let leftShift = shift > 0 ? shift : 0
        let rightShift = shift > 0 ? 0 : -shift
        let shifted = x &* (Int32(1) &<< Int32(leftShift))
        return roundingDivideByPowerOfTwo(saturatingRoundingDoublingHighMul(shifted, multiplier), rightShift)
    }

    /// XNNPACK's float requantization (`Requantization.xnnpack`): `x * scale` in float32, clamped to [lo, hi] (the
    /// output range less the zero point, so every value converts), rounded half to even, plus the zero point.
    /// - Precondition: `scale` is finite and `lo`, `hi` are integers within Int32 (the callers' scales lie in
    ///   [2^-32, 256)).
    @inline(__always)
    public static func floatRequantize(_ x: Int32, scale: Float, lo: Float, hi: Float, zeroPoint: Int32) -> Int32 {
        let f = Swift.min(Swift.max(Float(x) * scale, lo), hi)
        return Int32(f.rounded(.toNearestOrEven)) &+ zeroPoint
    }

    /// TFLite's `CalculateActivationRangeQuantized`: the clamp range for a fused activation on an output with the
    /// given scale and zero point, within `[typeMin, typeMax]`.
    public static func activationRange(_ activation: FusedActivationKind, scale: Float, zeroPoint: Int32,
                                       typeMin: Int32, typeMax: Int32) -> (min: Int32, max: Int32) {
        // TFLite: zero_point + static_cast<int32_t>(TfLiteRound(f / scale)); an out-of-range conversion gives
        // INT32_MIN on x86 (cvttss2si), and the addition wraps.
        func quantize(_ f: Float) -> Int32 { zeroPoint &+ x86Int32((f / scale).rounded(.toNearestOrAwayFromZero)) }
        switch activation {
        case .none: return (typeMin, typeMax)
        case .relu: return (max(typeMin, quantize(0)), typeMax)
        case .relu6: return (max(typeMin, quantize(0)), min(typeMax, quantize(6)))
        case .reluN1To1: return (max(typeMin, quantize(-1)), min(typeMax, quantize(1)))
        }
    }

    /// `static_cast<int32_t>(f)` as x86 computes it: truncation toward zero, and INT32_MIN for NaN or out of range.
    @inline(__always)
    public static func x86Int32(_ f: Float) -> Int32 {
        guard f.isFinite, f >= -2147483648.0, f < 2147483648.0 else { return Int32.min }
        return Int32(f)
    }

    /// TFLite's `CalculateActivationRange` for float outputs.
    public static func activationRange(_ activation: FusedActivationKind) -> (min: Float, max: Float) {
        switch activation {
        case .none: return (-.greatestFiniteMagnitude, .greatestFiniteMagnitude)
        case .relu: return (0, .greatestFiniteMagnitude)
        case .relu6: return (0, 6)
        case .reluN1To1: return (-1, 1)
        }
    }
}

/// The fused activations the kernels implement (TANH and SIGN_BIT fused activations are refused at prepare).
public enum FusedActivationKind: Sendable {
    case none, relu, relu6, reluN1To1
}
