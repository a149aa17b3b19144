import MagpieModel

/// RESHAPE: same bytes, new shape. The shape comes from the second input (a constant or runtime int32 tensor) or,
/// failing that, from the options; one dimension may be -1.
enum Reshape {
    static let registration = OperatorRegistration(.reshape) { context in
        try context.requireCounts(inputs: 1...2, outputs: 1)
        let input = try context.input(0)
        let output = try context.output(0)
        try context.require(input.type == output.type, "input type \(input.type) differs from output type \(output.type)")
        var requested: [Int]?
        if let shapeTensor = context.optionalInput(1) {
            try context.require(shapeTensor.type == .int32, "shape tensor must be int32, got \(shapeTensor.type)")
            if let values = try context.constantValues(1, as: Int32.self) {
                // A 1-D shape tensor is the new shape; TFLite also treats a [1, 0]-style empty tensor as "use options".
                if shapeTensor.rank == 1 { requested = values.map(Int.init) }
            } else {
                throw KernelError("a shape tensor computed at run time is not supported")
            }
        }
        if requested == nil, case let .reshape(newShape?) = context.op.options { requested = newShape }
        var shape = requested ?? output.shape
        let total = input.elementCount
        let unknown = shape.indices.filter { shape[$0] == -1 }
        try context.require(unknown.count <= 1, "more than one -1 in shape \(shape)")
        try context.require(shape.allSatisfy { $0 >= -1 }, "invalid dimension in shape \(shape)")
        if let u = unknown.first {
            let known = shape.enumerated().filter { $0.offset != u }.reduce(1) { $0 * $1.element }
            try context.require(known > 0 && total % known == 0, "cannot reshape \(input.shape) to \(shape)")
            shape[u] = total / known
        }
        try context.require(shape.reduce(1, *) == total, "cannot reshape \(input.shape) (\(total) elements) to \(shape)")
        try context.setOutputShape(0, shape)
        let source = context.op.inputs[0], destination = try context.outputIndex(0)
        let bytes = try context.output(0).byteCount
        return ClosureKernel { t in
            t[destination].copyMemory(from: t[source], byteCount: bytes)
        }
    }
}
