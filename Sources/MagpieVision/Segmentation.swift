import MagpieModel

/// A class index per pixel, row-major, row 0 at the top.
public struct SegmentationMap: Sendable, Equatable {
    /// Columns.
    public let width: Int
    /// Rows.
    public let height: Int
    /// `width * height` class indices.
    public var classes: [Int32]

    /// Creates a map.
    ///
    /// - Parameters:
    ///   - width: columns.
    ///   - height: rows.
    ///   - classes: `width * height` class indices, row-major.
    public init(width: Int, height: Int, classes: [Int32]) {
        precondition(width >= 0 && height >= 0 && classes.count == width * height)
        self.width = width
        self.height = height
        self.classes = classes
    }

    /// The class at column `x`, row `y`.
    public subscript(x: Int, y: Int) -> Int32 {
        precondition(x >= 0 && x < width && y >= 0 && y < height, "(\(x), \(y)) outside \(width)x\(height)")
        return classes[y * width + x]
    }

    /// Scales the map to another size, typically the original image's, taking for each output pixel the
    /// class under its centre (nearest neighbour, as Pillow's `NEAREST`).
    ///
    /// - Parameters:
    ///   - width: output width, at least 1.
    ///   - height: output height, at least 1.
    /// - Returns: the scaled map.
    /// - Throws: `VisionError.invalidArgument` for a non-positive size or an empty map.
    public func resized(width: Int, height: Int) throws -> SegmentationMap {
        guard width > 0, height > 0 else { throw VisionError.invalidArgument("invalid target size \(width)x\(height)") }
        guard self.width > 0, self.height > 0 else { throw VisionError.invalidArgument("cannot resize an empty map") }
        if width == self.width && height == self.height { return self }
        let xs = nearestSourceIndices(outputSize: width, inputSize: self.width)
        let ys = nearestSourceIndices(outputSize: height, inputSize: self.height)
        var out = [Int32](repeating: 0, count: width * height)
        for y in 0..<height {
            let row = ys[y] * self.width
            for x in 0..<width { out[y * width + x] = classes[row + xs[x]] }
        }
        return SegmentationMap(width: width, height: height, classes: out)
    }

    /// How many pixels each class covers, for classes `0..<classCount`; other values are not counted.
    ///
    /// - Parameter classCount: the number of classes.
    /// - Returns: `classCount` counts.
    public func pixelCounts(classCount: Int) -> [Int] {
        var counts = [Int](repeating: 0, count: max(classCount, 0))
        for c in classes where c >= 0 && Int(c) < counts.count { counts[Int(c)] += 1 }
        return counts
    }
}

/// Turns a segmentation model's output tensor into a class map.
public enum SegmentationHead {
    /// Builds the class map of an output tensor.
    ///
    /// - `[1, H, W, C]` with `C > 1` (float32, uint8, int8, int16, int32 or int64 scores): argmax over the last
    ///   axis; the lowest class index wins a tie. Quantized scores are compared raw, which orders them the same
    ///   as their dequantized values (the scale is positive).
    /// - `[1, H, W]`, `[H, W]` or `[1, H, W, 1]` of an integer type (an ArgMax already in the model): the values
    ///   are the classes.
    ///
    /// - Parameters:
    ///   - bytes: the tensor's data, little-endian, row-major.
    ///   - spec: its type and shape.
    /// - Returns: the class map, at the model's output resolution.
    /// - Throws: `VisionError.unsupportedTensor` for another shape or type, `VisionError.invalidArgument`
    ///   when the byte count does not match, or a class index does not fit in Int32.
    public static func classMap(_ bytes: UnsafeRawBufferPointer, spec: TensorSpec) throws -> SegmentationMap {
        let shape = spec.shape
        let height: Int, width: Int, channels: Int
        switch shape.count {
        case 4 where shape[0] == 1: (height, width, channels) = (shape[1], shape[2], shape[3])
        case 3 where shape[0] == 1: (height, width, channels) = (shape[1], shape[2], 1)
        case 2: (height, width, channels) = (shape[0], shape[1], 1)
        default: throw VisionError.unsupportedTensor("segmentation output shape \(shape) is not [1, H, W, C] or [1, H, W]")
        }
        guard height > 0, width > 0, channels > 0, let count = spec.elementCount else {
            throw VisionError.unsupportedTensor("segmentation output shape \(shape) is empty")
        }
        let size: Int
        switch spec.type {
        case .float32, .int32: size = 4
        case .int64: size = 8
        case .int16: size = 2
        case .uint8, .int8: size = 1
        default: throw VisionError.unsupportedTensor("segmentation output of type \(spec.type) is not supported")
        }
        guard bytes.count == count * size else {
            throw VisionError.invalidArgument("tensor of shape \(shape) and type \(spec.type) needs \(count * size) bytes, got \(bytes.count)")
        }
        let pixels = width * height
        var classes = [Int32](repeating: 0, count: pixels)

        if channels == 1 {
            let value: (Int) -> Int64
            switch spec.type {
            case .float32:
                throw VisionError.unsupportedTensor("a float32 output with one value per pixel holds no class indices")
            case .uint8: value = { Int64(bytes[$0]) }
            case .int8: value = { Int64(Int8(bitPattern: bytes[$0])) }
            case .int16: value = { Int64(bytes.loadUnaligned(fromByteOffset: $0 * 2, as: Int16.self)) }
            case .int32: value = { Int64(bytes.loadUnaligned(fromByteOffset: $0 * 4, as: Int32.self)) }
            default: value = { bytes.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self) }
            }
            for p in 0..<pixels {
                let v = value(p)
                guard let c = Int32(exactly: v) else {
                    throw VisionError.invalidArgument("class index \(v) at pixel \(p) does not fit in Int32")
                }
                classes[p] = c
            }
            return SegmentationMap(width: width, height: height, classes: classes)
        }

        func argmax<T: Comparable>(_ read: (Int) -> T) {
            for p in 0..<pixels {
                let base = p * channels
                var best = 0
                var bestValue = read(base)
                for c in 1..<channels {
                    let v = read(base + c)
                    if v > bestValue { best = c; bestValue = v }
                }
                classes[p] = Int32(best)
            }
        }
        guard channels <= Int(Int32.max) else { throw VisionError.unsupportedTensor("too many classes: \(channels)") }
        switch spec.type {
        case .float32:
            // NaN ranks lowest.
            argmax { i -> Float in
                let v = bytes.loadUnaligned(fromByteOffset: i * 4, as: Float.self)
                return v.isNaN ? -Float.infinity : v
            }
        case .uint8: argmax { bytes[$0] }
        case .int8: argmax { Int8(bitPattern: bytes[$0]) }
        case .int16: argmax { bytes.loadUnaligned(fromByteOffset: $0 * 2, as: Int16.self) }
        case .int32: argmax { bytes.loadUnaligned(fromByteOffset: $0 * 4, as: Int32.self) }
        default: argmax { bytes.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self) }
        }
        return SegmentationMap(width: width, height: height, classes: classes)
    }
}
