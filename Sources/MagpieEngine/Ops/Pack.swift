import MagpieModel

/// PACK: stacks `values_count` tensors of one shape along a new axis (in `[-(rank+1), rank]`), following TFLite's
/// `pack.cc` and `reference_ops::Pack`. Every input must carry the output's scale and zero point (TFLite does not
/// rescale).
enum Pack {
    static let supportedTypes: [TensorType] = [.float32, .uint8, .int8, .int32, .int64]

    static let registration = OperatorRegistration(.pack) { context in
        guard case let .pack(valuesCount, axisOption) = context.op.options else { throw KernelError("missing PackOptions") }
        try context.require(context.inputCount == valuesCount,
                            "values_count is \(valuesCount) but the operator has \(context.inputCount) inputs")
        try context.require(valuesCount >= 1, "values_count must be positive, got \(valuesCount)")
        try context.require(context.outputCount == 1, "expected 1 output, got \(context.outputCount)")
        let first = try context.input(0)
        let output = try context.output(0)
        try ShapeSupport.requireType(context, first.type, in: supportedTypes)
        guard let axis = ShapeSupport.normalizedAxis(axisOption, rank: first.rank + 1) else {
            throw KernelError("axis \(axisOption) is out of range for packing rank-\(first.rank) tensors")
        }
        try context.require(output.type == first.type, "output type \(output.type) differs from input type \(first.type)")
        for i in 0..<valuesCount {
            let t = try context.input(i)
            try context.require(t.type == first.type, "input \(i) has type \(t.type), input 0 has \(first.type)")
            try context.require(t.shape == first.shape, "input \(i) has shape \(t.shape), input 0 has \(first.shape)")
            try context.require(ShapeSupport.sameQuantization(t, output),
                                "input \(i) has scale \(t.scale) and zero point \(t.zeroPoint) but the output has \(output.scale) and \(output.zeroPoint); PACK does not rescale")
        }
        var shape = first.shape
        shape.insert(valuesCount, at: axis)
        try context.setOutputShape(0, shape)
        let outer = ShapeSupport.product(first.shape, 0..<axis)
        let sliceBytes = ShapeSupport.product(first.shape, axis..<first.rank) * first.type.byteSize!
        let sources = (0..<valuesCount).map { context.op.inputs[$0] }
        let destination = try context.outputIndex(0)
        return ClosureKernel { t in
            var dst = t[destination]
            for k in 0..<outer {
                for s in sources {
                    dst.copyMemory(from: t[s] + k * sliceBytes, byteCount: sliceBytes)
                    dst += sliceBytes
                }
            }
        }
    }
}
