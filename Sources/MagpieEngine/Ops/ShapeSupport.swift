import MagpieModel

/// Helpers shared by the shape, data-movement, resizing and arg-max operators (`ShapeOperators`).
///
/// Every operator of the group prepares its reference kernel for both `KernelSet`s for now; a faster kernel can be
/// chosen in its prepare closure by `context.kernels` without changing the validation and shape logic.
enum ShapeSupport {
    /// Every element type the data-movement operators move: they copy bytes, so only the element size matters.
    static let movableTypes: [TensorType] = [.float32, .int32, .uint8, .int8, .int64, .bool]

    /// Throws unless `type` is one of `allowed`, naming the type and the operator's supported list.
    static func requireType(_ context: PrepareContext, _ type: TensorType, in allowed: [TensorType],
                            _ what: String = "input") throws {
        try context.require(allowed.contains(type),
                            "\(what) type \(type) is not supported (supported: \(allowed.map(\.description).joined(separator: ", ")))")
    }

    /// `axis` made non-negative for a tensor of rank `rank` (TFLite's `axis += rank` for negative axes),
    /// or nil when it is outside `[-rank, rank)`.
    static func normalizedAxis(_ axis: Int, rank: Int) -> Int? {
        let a = axis < 0 ? axis + rank : axis
        return a >= 0 && a < rank ? a : nil
    }

    /// Row-major strides (in elements) of `shape`.
    static func strides(_ shape: [Int]) -> [Int] {
        var s = [Int](repeating: 1, count: shape.count)
        var acc = 1
        for i in shape.indices.reversed() {
            s[i] = acc
            acc *= shape[i]
        }
        return s
    }

    /// Product of `shape[range]` (1 for an empty range).
    static func product(_ shape: [Int], _ range: Range<Int>) -> Int {
        range.reduce(1) { $0 * shape[$1] }
    }

    /// True when two tensors carry the same per-tensor scale and zero point, compared as TFLite compares
    /// `params.scale` and `params.zero_point` (an unquantized tensor has scale 0 and zero point 0).
    static func sameQuantization(_ a: TensorInfo, _ b: TensorInfo) -> Bool {
        a.scale == b.scale && a.zeroPoint == b.zeroPoint
    }

    /// `static_cast<int32_t>(f)` as x86-64 computes it (`cvttss2si`): truncation toward zero, and the "integer
    /// indefinite" value `Int32.min` for NaN and for values outside the int32 range (C++ leaves those undefined;
    /// LiteRT's x86 build produces this).
    @inline(__always)
    static func truncatingToInt32(_ f: Float) -> Int32 {
        f > -2_147_483_904 && f < 2_147_483_648 ? Int32(f) : Int32.min
    }

    /// Reads a constant int32 or int64 tensor as `[Int]`; throws when the input is not constant or has another type.
    static func constantIntegers(_ context: PrepareContext, input i: Int, what: String) throws -> [Int] {
        let t = try context.input(i)
        switch t.type {
        case .int32:
            guard let v = try context.constantValues(i, as: Int32.self) else {
                throw KernelError("\(what) computed at run time is not supported (it must be a constant tensor)")
            }
            return v.map(Int.init)
        case .int64:
            guard let v = try context.constantValues(i, as: Int64.self) else {
                throw KernelError("\(what) computed at run time is not supported (it must be a constant tensor)")
            }
            return v.map { Int(truncatingIfNeeded: $0) }
        default:
            throw KernelError("\(what) must be int32 or int64, got \(t.type)")
        }
    }
}

/// A kernel builder generic over a fixed-width element; `ShapeSupport.make` picks the element by byte size, so
/// one generic kernel moves float32, int32, uint8, int8, int64 and bool data alike.
protocol ElementKernelFactory {
    func make<E: FixedWidthInteger>(_: E.Type) throws -> Kernel
}

extension ShapeSupport {
    /// Instantiates `factory` for the unsigned integer type of `byteSize` bytes.
    static func make(byteSize: Int, _ factory: some ElementKernelFactory) throws -> Kernel {
        switch byteSize {
        case 1: return try factory.make(UInt8.self)
        case 2: return try factory.make(UInt16.self)
        case 4: return try factory.make(UInt32.self)
        case 8: return try factory.make(UInt64.self)
        default: throw KernelError("element size \(byteSize) is not supported")
        }
    }
}

/// Walks every index of a row-major shape in order, keeping a linear offset into a second tensor whose strides
/// are given per dimension (the "odometer" the naive reference kernels use for TRANSPOSE, PAD and STRIDED_SLICE).
struct StridedWalk {
    /// The extents walked, outermost first.
    let extents: [Int]
    /// Offset added per step along each dimension.
    let steps: [Int]
    /// Offset of the first element.
    let start: Int

    /// Calls `body(offset)` for every index in row-major order; `counter` must hold `extents.count` elements
    /// (allocated at prepare so the walk allocates nothing).
    @inline(__always)
    func forEach(counter: UnsafeMutablePointer<Int>, _ body: (Int) throws -> Void) rethrows {
        let rank = extents.count
        var total = 1
        for e in extents { total *= e }
        if total == 0 { return }
        for d in 0..<rank { counter[d] = 0 }
        var offset = start
        for _ in 0..<total {
            try body(offset)
            // Advance the innermost dimension, carrying outward.
            var d = rank - 1
            while d >= 0 {
                counter[d] += 1
                offset += steps[d]
                if counter[d] < extents[d] { break }
                offset -= steps[d] * extents[d]
                counter[d] = 0
                d -= 1
            }
        }
    }
}
