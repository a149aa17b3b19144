import MagpieModel

/// TRANSPOSE: permutes dimensions, `output.shape[i] = input.shape[perm[i]]`, following TFLite's `transpose.cc` and
/// `reference_ops::Transpose`. `perm` is a constant int32 vector holding each of `0..<rank` once (negative entries
/// count from the end).
enum Transpose {
    /// LiteRT's `kTransposeMaxDimensions` (1-D to 8-D).
    static let maxRank = 8

    static let registration = OperatorRegistration(.transpose) { context in
        try context.requireCounts(inputs: 2...2, outputs: 1)
        let input = try context.input(0)
        let output = try context.output(0)
        let permTensor = try context.input(1)
        try ShapeSupport.requireType(context, input.type, in: ShapeSupport.movableTypes)
        try context.require(output.type == input.type, "output type \(output.type) differs from input type \(input.type)")
        try context.require(input.rank <= maxRank, "input rank \(input.rank) is above \(maxRank)")
        try context.require(permTensor.type == .int32, "perm must be int32, got \(permTensor.type)")
        try context.require(permTensor.rank == 1 && permTensor.shape[0] == input.rank,
                            "perm must have shape [\(input.rank)], got \(permTensor.shape)")
        guard let raw = try context.constantValues(1, as: Int32.self) else {
            throw KernelError("a permutation computed at run time is not supported (it must be a constant tensor)")
        }
        var perm: [Int] = []
        for p in raw {
            guard let a = ShapeSupport.normalizedAxis(Int(p), rank: input.rank) else {
                throw KernelError("perm \(raw) has an entry out of range for rank \(input.rank)")
            }
            try context.require(!perm.contains(a), "perm \(raw) repeats dimension \(a)")
            perm.append(a)
        }
        let shape = perm.map { input.shape[$0] }
        try context.setOutputShape(0, shape)
        let inputStrides = ShapeSupport.strides(input.shape)
        // Walking the output in order steps through the input by the permuted strides.
        let walk = StridedWalk(extents: shape, steps: perm.map { inputStrides[$0] }, start: 0)
        let factory = TransposeFactory(source: context.op.inputs[0], destination: try context.outputIndex(0), walk: walk,
                                       counter: context.allocate(Int.self, count: max(1, input.rank)))
        return try ShapeSupport.make(byteSize: input.type.byteSize!, factory)
    }
}

struct TransposeFactory: ElementKernelFactory {
    let source: Int, destination: Int
    let walk: StridedWalk
    let counter: UnsafeMutablePointer<Int>

    func make<E: FixedWidthInteger>(_: E.Type) throws -> Kernel {
        let (source, destination, walk, counter) = (source, destination, walk, counter)
        return ClosureKernel { t in
            let input = t.pointer(source, as: E.self)
            let output = t.pointer(destination, as: E.self)
            var o = 0
            walk.forEach(counter: counter) { i in
                output[o] = input[i]
                o += 1
            }
        }
    }
}
