/// How `RGBImage.resized(width:height:filter:)` computes each output pixel.
public enum ResamplingFilter: String, Sendable, CaseIterable {
    /// Pillow's `Image.BILINEAR`: a triangle filter whose support widens with the reduction factor, so that
    /// downscaling averages every source pixel (antialiased) instead of sampling four. Matches Pillow 13's 8-bit
    /// path exactly: separable, 22-bit fixed-point weights, rounding to 8 bits between the passes, horizontal
    /// pass first unless the height shrinks by more than twice as many pixels as the width.
    case bilinear
    /// Pillow's `Image.NEAREST`: the source pixel under each output pixel's centre.
    case nearest
}

extension RGBImage {
    /// Resizes the whole image to `width` × `height` (no cropping, aspect ratio not kept).
    ///
    /// With `.bilinear` this reproduces `PIL.Image.resize((width, height), Image.BILINEAR)`, the preprocessing of
    /// the reference goldens.
    ///
    /// - Parameters:
    ///   - width: output width, at least 1.
    ///   - height: output height, at least 1.
    ///   - filter: the resampling filter.
    /// - Returns: the resized image (`self` when the size is unchanged).
    /// - Throws: `VisionError.invalidArgument` for a non-positive target size or an empty source image.
    public func resized(width: Int, height: Int, filter: ResamplingFilter = .bilinear) throws -> RGBImage {
        guard width > 0, height > 0, width <= Int(Int32.max), height <= Int(Int32.max) else {
            throw VisionError.invalidArgument("invalid target size \(width)x\(height)")
        }
        guard self.width > 0, self.height > 0 else {
            throw VisionError.invalidArgument("cannot resize an empty \(self.width)x\(self.height) image")
        }
        guard width != self.width || height != self.height else { return self }
        switch filter {
        case .nearest: return resizedNearest(width: width, height: height)
        case .bilinear: return resizedTriangle(width: width, height: height)
        }
    }

    private func resizedNearest(width: Int, height: Int) -> RGBImage {
        let xs = nearestSourceIndices(outputSize: width, inputSize: self.width)
        let ys = nearestSourceIndices(outputSize: height, inputSize: self.height)
        var out = [UInt8](repeating: 0, count: width * height * 3)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for y in 0..<height {
                    let sourceRow = ys[y] * self.width
                    for x in 0..<width {
                        let s = (sourceRow + xs[x]) * 3, d = (y * width + x) * 3
                        dst[d] = src[s]
                        dst[d + 1] = src[s + 1]
                        dst[d + 2] = src[s + 2]
                    }
                }
            }
        }
        return RGBImage(width: width, height: height, pixels: out)
    }

    private func resizedTriangle(width: Int, height: Int) -> RGBImage {
        let horizontal = width != self.width ? ResampleWeights(inputSize: self.width, outputSize: width) : nil
        let vertical = height != self.height ? ResampleWeights(inputSize: self.height, outputSize: height) : nil
        guard let vertical else {
            return RGBImage(width: width, height: height,
                            pixels: horizontal!.resampleRows(pixels, inputWidth: self.width, rows: 0..<self.height))
        }
        guard let horizontal else {
            return RGBImage(width: width, height: height,
                            pixels: vertical.resampleColumns(pixels, width: self.width, rowOffset: 0))
        }
        // Pillow 13 runs the vertical pass first when the height shrinks, by more than twice as many pixels as the
        // width; the 8-bit rounding between passes makes the order visible (±1), and the goldens follow it.
        if height < self.height && self.height - height > 2 * (self.width - width) {
            let intermediate = vertical.resampleColumns(pixels, width: self.width, rowOffset: 0)
            return RGBImage(width: width, height: height,
                            pixels: horizontal.resampleRows(intermediate, inputWidth: self.width, rows: 0..<height))
        }
        // Horizontal first, over only the rows the vertical pass reads.
        let firstRow = vertical.starts[0]
        let lastRow = vertical.starts[height - 1] + vertical.counts[height - 1]
        let intermediate = horizontal.resampleRows(pixels, inputWidth: self.width, rows: firstRow..<lastRow)
        return RGBImage(width: width, height: height,
                        pixels: vertical.resampleColumns(intermediate, width: width, rowOffset: firstRow))
    }
}

/// For each output index, the source index under the output pixel's centre.
///
/// The centre `(i + 0.5) * scale` is accumulated step by step (`scale / 2`, then `+ scale` per pixel) rather
/// than multiplied out, which is how Pillow's `NEAREST` resize computes it; the rounding of the running sum
/// decides the rare centres that fall exactly on a pixel edge.
///
/// - Parameters:
///   - outputSize: number of output pixels along the axis.
///   - inputSize: number of source pixels along the axis.
/// - Returns: `outputSize` source indices in `0..<inputSize`.
func nearestSourceIndices(outputSize: Int, inputSize: Int) -> [Int] {
    let scale = Double(inputSize) / Double(outputSize)
    var position = scale * 0.5
    var indices = [Int](repeating: 0, count: outputSize)
    for i in 0..<outputSize {
        indices[i] = min(max(Int(position), 0), inputSize - 1)
        position += scale
    }
    return indices
}

/// Fixed-point weights of a support-scaled triangle filter along one axis.
///
/// Output pixel `i` is centred at `(i + 0.5) * scale` in source coordinates, `scale = input / output`. The
/// triangle's radius is `max(scale, 1)` source pixels; the taps are the source pixels whose centres fall
/// within it, weighted by `1 - |distance| / radius` and normalised to sum to one, then stored as integers
/// with 22 fraction bits (rounded half away from zero).
struct ResampleWeights {
    static let precisionBits = 22

    /// First source index of each output pixel's window.
    let starts: [Int]
    /// Number of taps of each output pixel's window.
    let counts: [Int]
    /// `windowSize` weights per output pixel, zero past `counts[i]`.
    let weights: [Int32]
    let windowSize: Int

    /// Computes the weights.
    ///
    /// - Parameters:
    ///   - inputSize: source pixels along the axis (positive).
    ///   - outputSize: output pixels along the axis (positive).
    init(inputSize: Int, outputSize: Int) {
        let scale = Double(inputSize) / Double(outputSize)
        let filterScale = max(scale, 1.0)
        let support = filterScale  // the triangle's own support is 1
        let inverseScale = 1.0 / filterScale
        let windowSize = Int(support.rounded(.up)) * 2 + 1
        let one = Double(1 << Self.precisionBits)
        var starts = [Int](repeating: 0, count: outputSize)
        var counts = [Int](repeating: 0, count: outputSize)
        var weights = [Int32](repeating: 0, count: outputSize * windowSize)
        var taps = [Double](repeating: 0, count: windowSize)
        for i in 0..<outputSize {
            let center = (Double(i) + 0.5) * scale
            // Int() truncates toward zero; a negative start clamps to 0 either way.
            let start = max(Int(center - support + 0.5), 0)
            let end = min(Int(center + support + 0.5), inputSize)
            let count = min(max(end - start, 0), windowSize)
            var total = 0.0
            for k in 0..<count {
                let distance = (Double(k + start) - center + 0.5) * inverseScale
                let w = max(1.0 - abs(distance), 0.0)
                taps[k] = w
                total += w
            }
            for k in 0..<count {
                let w = total != 0 ? taps[k] / total : taps[k]
                weights[i * windowSize + k] = Int32(w < 0 ? w * one - 0.5 : w * one + 0.5)
            }
            starts[i] = start
            counts[i] = count
        }
        self.starts = starts
        self.counts = counts
        self.weights = weights
        self.windowSize = windowSize
    }

    @inline(__always)
    static func clip8(_ accumulator: Int) -> UInt8 {
        let v = accumulator >> precisionBits
        return v < 0 ? 0 : v > 255 ? 255 : UInt8(v)
    }

    /// Resamples rows `rows` of an RGB image horizontally to `starts.count` columns.
    ///
    /// - Parameters:
    ///   - pixels: the source image, `inputWidth` pixels per row.
    ///   - inputWidth: the source width.
    ///   - rows: the source rows to process; the result holds exactly these rows.
    /// - Returns: RGB bytes of `rows.count` rows of `starts.count` pixels.
    func resampleRows(_ pixels: [UInt8], inputWidth: Int, rows: Range<Int>) -> [UInt8] {
        let outWidth = starts.count
        var out = [UInt8](repeating: 0, count: rows.count * outWidth * 3)
        let half = 1 << (Self.precisionBits - 1)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                weights.withUnsafeBufferPointer { w in
                    for (r, y) in rows.enumerated() {
                        let rowBase = y * inputWidth
                        for x in 0..<outWidth {
                            var red = half, green = half, blue = half
                            let start = starts[x], weightBase = x * windowSize
                            for k in 0..<counts[x] {
                                let weight = Int(w[weightBase + k])
                                let s = (rowBase + start + k) * 3
                                red += Int(src[s]) * weight
                                green += Int(src[s + 1]) * weight
                                blue += Int(src[s + 2]) * weight
                            }
                            let d = (r * outWidth + x) * 3
                            dst[d] = Self.clip8(red)
                            dst[d + 1] = Self.clip8(green)
                            dst[d + 2] = Self.clip8(blue)
                        }
                    }
                }
            }
        }
        return out
    }

    /// Resamples an RGB image vertically to `starts.count` rows.
    ///
    /// - Parameters:
    ///   - pixels: source rows `rowOffset...` of the image (row 0 of `pixels` is source row `rowOffset`).
    ///   - width: pixels per row.
    ///   - rowOffset: the source row index of the first row in `pixels`.
    /// - Returns: RGB bytes of `starts.count` rows of `width` pixels.
    func resampleColumns(_ pixels: [UInt8], width: Int, rowOffset: Int) -> [UInt8] {
        let outHeight = starts.count
        let rowBytes = width * 3
        var out = [UInt8](repeating: 0, count: outHeight * rowBytes)
        let half = 1 << (Self.precisionBits - 1)
        var accumulators = [Int](repeating: 0, count: rowBytes)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                weights.withUnsafeBufferPointer { w in
                    accumulators.withUnsafeMutableBufferPointer { acc in
                        for y in 0..<outHeight {
                            for i in 0..<rowBytes { acc[i] = half }
                            let start = starts[y] - rowOffset, weightBase = y * windowSize
                            for k in 0..<counts[y] {
                                let weight = Int(w[weightBase + k])
                                let rowBase = (start + k) * rowBytes
                                for i in 0..<rowBytes { acc[i] += Int(src[rowBase + i]) * weight }
                            }
                            let d = y * rowBytes
                            for i in 0..<rowBytes { dst[d + i] = Self.clip8(acc[i]) }
                        }
                    }
                }
            }
        }
        return out
    }
}
