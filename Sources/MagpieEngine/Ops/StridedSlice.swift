import MagpieModel

/// STRIDED_SLICE: `input[begin:end:stride]` per dimension with TFLite's masks, following `strided_slice.cc`
/// (`BuildStridedSliceParams`) and `reference_ops::StridedSlice` (`StartForAxis`/`EndForAxis`):
/// - `begin`, `end`, `strides` are constant int32 vectors (at most 31 entries); missing trailing entries take the
///   whole dimension.
/// - `ellipsis_mask` expands to as many whole dimensions as needed; `new_axis_mask` inserts a size-1 dimension;
///   `begin_mask`/`end_mask` take the whole range in the stride's direction; `shrink_axis_mask` keeps one index and
///   drops the dimension; `offset` makes `end` relative to `begin`.
/// - Negative indices count from the end; indices are clamped to the dimension (to `[-1, size-1]` for negative
///   strides).
enum StridedSlice {
    static let registration = OperatorRegistration(.stridedSlice) { context in
        try context.requireCounts(inputs: 4...4, outputs: 1)
        guard case let .stridedSlice(options) = context.op.options else { throw KernelError("missing StridedSliceOptions") }
        let input = try context.input(0)
        let output = try context.output(0)
        try ShapeSupport.requireType(context, input.type, in: ShapeSupport.movableTypes)
        try context.require(output.type == input.type, "output type \(output.type) differs from input type \(input.type)")
        for (i, name) in [(1, "begin"), (2, "end"), (3, "strides")] {
            let t = try context.input(i)
            try context.require(t.type == .int32, "\(name) must be int32, got \(t.type)")
            try context.require(t.rank == 1, "\(name) must be a vector, got shape \(t.shape)")
        }
        guard let begin = try context.constantValues(1, as: Int32.self),
              let end = try context.constantValues(2, as: Int32.self),
              let strides = try context.constantValues(3, as: Int32.self) else {
            throw KernelError("begin, end or strides computed at run time is not supported (they must be constant tensors)")
        }
        try context.require(begin.count == end.count, "begin has \(begin.count) entries but end has \(end.count)")
        try context.require(strides.count >= begin.count, "strides has \(strides.count) entries, fewer than begin's \(begin.count)")
        try context.require(begin.count <= 31, "at most 31 indices are supported, got \(begin.count)")
        let slice = try resolve(options, inputShape: input.shape,
                                begin: begin.map(Int.init), end: end.map(Int.init), strides: strides.map(Int.init))
        try context.setOutputShape(0, slice.outputShape)

        // The walk visits exactly the elements the reference loop writes; refuse slices whose element count
        // disagrees with TFLite's output shape (TFLite would leave part of the output unwritten).
        try context.require(slice.extents.reduce(1, *) == slice.outputShape.reduce(1, *),
                            "slice visits \(slice.extents) elements but its output shape is \(slice.outputShape) (an index out of range on a shrunk axis?)")
        let factory = TransposeFactory(source: context.op.inputs[0], destination: try context.outputIndex(0),
                                       walk: slice.walk, counter: context.allocate(Int.self, count: max(1, slice.extents.count)))
        return try ShapeSupport.make(byteSize: input.type.byteSize!, factory)
    }

    /// The resolved slice: what the reference loop walks and the output shape TFLite gives it.
    struct Resolved {
        /// Elements visited per effective dimension.
        var extents: [Int]
        var walk: StridedWalk
        var outputShape: [Int]
    }

    /// Expands the masks as `BuildStridedSliceParams` does, then computes each effective axis's start, stop and
    /// the output shape as `ResizeOutputTensor` does.
    static func resolve(_ o: StridedSliceOptions, inputShape: [Int], begin: [Int], end: [Int], strides: [Int]) throws -> Resolved {
        func bit(_ mask: Int32, _ i: Int) -> Bool { i < 32 && (UInt32(bitPattern: mask) >> UInt32(i)) & 1 == 1 }
        let beginCount = begin.count
        let inputRank = inputShape.count
        var addedAxes = 0
        for i in 0..<beginCount where !bit(o.ellipsisMask, i) && bit(o.newAxisMask, i) { addedAxes += 1 }
        let dims = inputRank + addedAxes
        try require(dims <= 31, "the slice has \(dims) dimensions")

        // Which effective dimensions the ellipsis covers, and where new axes go.
        var ellipsis = [Bool](repeating: false, count: dims)
        var newAxis = [Bool](repeating: false, count: dims)
        var ellipsisStart = dims, expandedEllipsis = 0
        var i = 0
        while i < dims {
            if bit(o.ellipsisMask, i) {
                ellipsisStart = i
                let ellipsisEnd = max(i + 1, min(i + 1 + addedAxes + inputRank - beginCount, dims))
                expandedEllipsis = ellipsisEnd - ellipsisStart - 1
                while i < ellipsisEnd { ellipsis[i] = true; i += 1 }
                continue
            }
            if bit(o.newAxisMask, i - expandedEllipsis) { newAxis[i] = true }
            i += 1
        }

        var start = [Int](repeating: 0, count: dims), stop = [Int](repeating: 0, count: dims)
        var stride = [Int](repeating: 1, count: dims)
        var beginMask = [Bool](repeating: false, count: dims), endMask = beginMask, shrink = beginMask
        var effectiveShape = [Int](repeating: 1, count: dims)
        var addedEllipsis = 0, added = 0
        for i in 0..<dims {
            if ellipsis[i] {
                addedEllipsis = max(0, i - ellipsisStart)
                beginMask[i] = true; endMask[i] = true
                try require(i - added < inputRank, "ellipsis runs past the input's \(inputRank) dimensions")
                effectiveShape[i] = inputShape[i - added]
            } else if newAxis[i] {
                stop[i] = 1
                effectiveShape[i] = 1
                added += 1
            } else if i >= beginCount + expandedEllipsis {
                beginMask[i] = true; endMask[i] = true
                try require(i - added < inputRank, "the slice names more dimensions than the input's \(inputRank)")
                effectiveShape[i] = inputShape[i - added]
            } else {
                let j = i - addedEllipsis
                start[i] = begin[j]
                stop[i] = end[j]
                stride[i] = strides[j]
                beginMask[i] = bit(o.beginMask, j)
                endMask[i] = bit(o.endMask, j)
                shrink[i] = bit(o.shrinkAxisMask, j)
                try require(i - added < inputRank, "the slice names more dimensions than the input's \(inputRank)")
                effectiveShape[i] = inputShape[i - added]
            }
        }

        var first = [Int](repeating: 0, count: dims), extents = first, outputShape: [Int] = []
        for a in 0..<dims {
            let s = stride[a], size = effectiveShape[a]
            try require(s != 0, "stride value has to be non-zero")
            try require(s != Int(Int32.min), "stride value INT32_MIN is not supported")
            // StartForAxis.
            var b = start[a]
            if b < 0 { b += size }
            b = s > 0 ? clamp(b, 0, size) : clamp(b, -1, size - 1)
            if beginMask[a] { b = s > 0 ? 0 : size - 1 }
            // EndForAxis.
            var e: Int
            if shrink[a] {
                e = b >= size ? b : b + 1
            } else {
                e = stop[a]
                if o.offset { e += b }
                if e < 0 { e += size }
                e = s > 0 ? clamp(e, 0, size) : clamp(e, -1, size - 1)
                if endMask[a] { e = s > 0 ? size : -1 }
            }
            first[a] = b
            // Elements the reference loop visits: index runs from b while (s > 0 ? index < e : index > e).
            extents[a] = s > 0 ? (e > b ? (e - b - 1) / s + 1 : 0) : (e < b ? (b - e - 1) / (-s) + 1 : 0)
            if shrink[a] { continue }
            // ResizeOutputTensor's dimension.
            var dim: Int
            if o.offset {
                try require(a < end.count, "offset slice: no end value for dimension \(a)")
                dim = end[a]
            } else {
                dim = e - b
            }
            if (dim < 0) != (s < 0) {
                dim = 0
            } else if s < 0 {
                dim = (dim + 1) / s + 1
            } else {
                dim = dim == 0 ? 0 : (dim - 1) / s + 1
            }
            try require(dim >= 0 && dim <= Int(Int32.max), "integer overflow computing output dimension \(a)")
            outputShape.append(dim)
        }
        let inputStrides = ShapeSupport.strides(effectiveShape)
        var offset = 0
        for a in 0..<dims { offset += first[a] * inputStrides[a] }
        let walk = StridedWalk(extents: extents, steps: (0..<dims).map { inputStrides[$0] * stride[$0] }, start: offset)
        return Resolved(extents: extents, walk: walk, outputShape: outputShape)
    }

    private static func clamp(_ v: Int, _ lo: Int, _ hi: Int) -> Int { v > hi ? hi : (v < lo ? lo : v) }

    private static func require(_ condition: Bool, _ reason: @autoclosure () -> String) throws {
        if !condition { throw KernelError(reason()) }
    }
}
