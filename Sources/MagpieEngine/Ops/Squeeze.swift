import MagpieModel

/// SQUEEZE: drops size-1 dimensions, following TFLite's `squeeze.cc`: with no `squeeze_dims` every size-1 dimension
/// goes; otherwise each listed dimension (negative counts from the end, repeats allowed) must exist and have size 1.
/// The bytes are copied unchanged.
enum Squeeze {
    static let registration = OperatorRegistration(.squeeze) { context in
        try context.requireCounts(inputs: 1...1, outputs: 1)
        let input = try context.input(0)
        let output = try context.output(0)
        try ShapeSupport.requireType(context, input.type, in: ShapeSupport.movableTypes)
        try context.require(input.type == output.type, "input type \(input.type) differs from output type \(output.type)")
        try context.require(input.rank <= 8, "input rank \(input.rank) is above 8")
        guard case let .squeeze(dims) = context.op.options else { throw KernelError("missing SqueezeOptions") }
        try context.require(dims.count <= 8, "at most 8 squeeze_dims are supported, got \(dims.count)")
        var squeezed = [Bool](repeating: false, count: input.rank)
        if dims.isEmpty {
            for (i, d) in input.shape.enumerated() where d == 1 { squeezed[i] = true }
        } else {
            for d in dims {
                guard let a = ShapeSupport.normalizedAxis(d, rank: input.rank) else {
                    throw KernelError("squeeze dimension \(d) is out of range for rank \(input.rank)")
                }
                try context.require(input.shape[a] == 1, "cannot squeeze dimension \(d) of size \(input.shape[a]) in \(input.shape)")
                squeezed[a] = true
            }
        }
        try context.setOutputShape(0, input.shape.indices.filter { !squeezed[$0] }.map { input.shape[$0] })
        let source = context.op.inputs[0], destination = try context.outputIndex(0)
        let bytes = input.byteCount
        // Reference and optimized kernels are the same copy.
        return ClosureKernel { t in
            if t[destination] != t[source] { t[destination].copyMemory(from: t[source], byteCount: bytes) }
        }
    }
}
