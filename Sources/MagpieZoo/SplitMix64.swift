/// SplitMix64, the 64-bit generator of Steele, Lea and Flood ("Fast splittable pseudorandom number generators",
/// OOPSLA 2014), with the constants of Vigna's public-domain reference implementation:
///
///     state += 0x9E3779B97F4A7C15
///     z = state
///     z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
///     z = (z ^ (z >> 27)) * 0x94D049BB133111EB
///     return z ^ (z >> 31)
///
/// Everything the zoo draws (weights, synthetic images) comes from this generator through integer arithmetic and
/// exactly rounded float operations only, so a seed gives the same bytes on every platform.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    /// The generator's whole state.
    public private(set) var state: UInt64

    /// A generator whose first output is the SplitMix64 mix of `seed + 0x9E3779B97F4A7C15`.
    public init(seed: UInt64) { state = seed }

    /// A generator for an independent stream `stream` of `seed` (one per layer, one per image): its state is the
    /// SplitMix64 finaliser of `seed` xor the finaliser of `stream + 0x632BE59BD9B4E019`, so streams of one seed
    /// start far apart and do not overlap in practice.
    public init(seed: UInt64, stream: UInt64) {
        state = Self.mix(seed ^ Self.mix(stream &+ 0x632B_E59B_D9B4_E019))
    }

    /// The SplitMix64 output function (a bijective 64-bit finaliser).
    @inline(__always)
    public static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The next 64 random bits.
    @inline(__always)
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return Self.mix(state)
    }

    /// A float uniformly distributed in [0, 1): the top 24 bits of `next()` times 2⁻²⁴ (exact).
    @inline(__always)
    public mutating func nextUnitFloat() -> Float {
        Float(next() >> 40) * 0x1p-24
    }

    /// A float uniformly distributed in [-1, 1): the top 24 bits of `next()`, less 2²³, times 2⁻²³ (exact).
    @inline(__always)
    public mutating func nextSignedUnitFloat() -> Float {
        (Float(next() >> 40) - 0x1p23) * 0x1p-23
    }

    /// An integer uniformly distributed in `range` (by multiply-shift on 32 random bits; the tiny bias of that
    /// method does not matter for test images).
    @inline(__always)
    public mutating func nextInt(in range: ClosedRange<Int>) -> Int {
        let span = UInt64(range.upperBound - range.lowerBound + 1)
        return range.lowerBound + Int(((next() >> 32) &* span) >> 32)
    }
}
