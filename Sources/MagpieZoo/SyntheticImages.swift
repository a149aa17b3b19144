/// Deterministic synthetic RGB images for calibration and tests: no photographs are needed and the pixels are the
/// same on every platform (integer arithmetic only).
///
/// Image `index` of `seed` draws from `SplitMix64(seed: seed, stream: index)` and is one of five kinds, in turn:
/// 0. a flat random colour with uniform noise of random strength (±8 to ±48);
/// 1. a checkerboard of two random colours with a random square size (4 to 32 pixels);
/// 2. a linear gradient per channel with random direction weights;
/// 3. uniform random noise;
/// 4. concentric rings of two random colours around a random centre, with random ring width (3 to 24 pixels).
public enum SyntheticImages {
    /// Number of distinct kinds the index cycles through.
    public static let kindCount = 5

    /// An image of `height` × `width` × 3 bytes (RGB, row-major, as a [1, height, width, 3] uint8 tensor).
    public static func image(index: Int, seed: UInt64, width: Int = 224, height: Int = 224) -> [UInt8] {
        var rng = SplitMix64(seed: seed, stream: UInt64(truncatingIfNeeded: index))
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        func colour() -> (Int, Int, Int) {
            (rng.nextInt(in: 0...255), rng.nextInt(in: 0...255), rng.nextInt(in: 0...255))
        }
        pixels.withUnsafeMutableBufferPointer { p in
            switch index % kindCount {
            case 0:
                let base = colour()
                let noise = rng.nextInt(in: 8...48)
                for i in 0..<(width * height) {
                    p[3 * i] = clamp(base.0 + rng.nextInt(in: -noise...noise))
                    p[3 * i + 1] = clamp(base.1 + rng.nextInt(in: -noise...noise))
                    p[3 * i + 2] = clamp(base.2 + rng.nextInt(in: -noise...noise))
                }
            case 1:
                let a = colour(), b = colour()
                let size = rng.nextInt(in: 4...32)
                for y in 0..<height {
                    for x in 0..<width {
                        let c = ((x / size) + (y / size)) % 2 == 0 ? a : b
                        let i = 3 * (y * width + x)
                        p[i] = UInt8(c.0); p[i + 1] = UInt8(c.1); p[i + 2] = UInt8(c.2)
                    }
                }
            case 2:
                // Per channel: value = offset + (wx * x + wy * y) / 256, weights in [-384, 384].
                var w: [(Int, Int, Int)] = []
                for _ in 0..<3 {
                    w.append((rng.nextInt(in: 0...255), rng.nextInt(in: -384...384), rng.nextInt(in: -384...384)))
                }
                for y in 0..<height {
                    for x in 0..<width {
                        let i = 3 * (y * width + x)
                        for c in 0..<3 {
                            let (offset, wx, wy) = w[c]
                            p[i + c] = clamp(offset + (wx * x + wy * y) / 256)
                        }
                    }
                }
            case 3:
                for i in 0..<(width * height * 3) { p[i] = UInt8(truncatingIfNeeded: rng.next() >> 56) }
            default:
                let a = colour(), b = colour()
                let cx = rng.nextInt(in: 0...(width - 1)), cy = rng.nextInt(in: 0...(height - 1))
                let ring = rng.nextInt(in: 3...24)
                for y in 0..<height {
                    for x in 0..<width {
                        let d2 = (x - cx) * (x - cx) + (y - cy) * (y - cy)
                        let c = (integerSquareRoot(d2) / ring) % 2 == 0 ? a : b
                        let i = 3 * (y * width + x)
                        p[i] = UInt8(c.0); p[i + 1] = UInt8(c.1); p[i + 2] = UInt8(c.2)
                    }
                }
            }
        }
        return pixels
    }

    /// The float input MobileNet expects for `pixels`: (x − 127.5) / 127.5, in [-1, 1].
    public static func normalized(_ pixels: [UInt8]) -> [Float] {
        var out = [Float](repeating: 0, count: pixels.count)
        for i in pixels.indices { out[i] = (Float(pixels[i]) - 127.5) / 127.5 }
        return out
    }

    @inline(__always)
    private static func clamp(_ v: Int) -> UInt8 { UInt8(min(max(v, 0), 255)) }

    /// ⌊√n⌋ for n ≥ 0, by integer Newton iteration (no floating point, so the rings are the same everywhere).
    static func integerSquareRoot(_ n: Int) -> Int {
        guard n > 1 else { return n }
        var x = n, y = (n + 1) / 2
        while y < x { x = y; y = (x + n / x) / 2 }
        return x
    }
}
