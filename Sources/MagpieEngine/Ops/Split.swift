import MagpieModel

/// SPLIT: cuts input 1 into `num_splits` equal slices along the axis held by input 0 (a constant int32 scalar or
/// one-element tensor; negative counts from the end), following TFLite's `split.cc` and `reference_ops::Split`.
enum Split {
    static let supportedTypes: [TensorType] = [.float32, .uint8, .int8, .int32, .int64]

    static let registration = OperatorRegistration(.split) { context in
        try context.require(context.inputCount == 2, "expected 2 inputs, got \(context.inputCount)")
        guard case let .split(numSplits) = context.op.options else { throw KernelError("missing SplitOptions") }
        try context.require(context.outputCount == numSplits,
                            "num_splits is \(numSplits) but the operator has \(context.outputCount) outputs")
        try context.require(numSplits > 0, "num_splits must be positive, got \(numSplits)")
        let axisTensor = try context.input(0)
        let input = try context.input(1)
        try ShapeSupport.requireType(context, input.type, in: supportedTypes)
        try context.require(axisTensor.type == .int32, "axis tensor must be int32, got \(axisTensor.type)")
        guard let axisValues = try context.constantValues(0, as: Int32.self) else {
            throw KernelError("a split axis computed at run time is not supported (it must be a constant tensor)")
        }
        try context.require(axisValues.count == 1, "axis tensor must hold one value, got \(axisValues.count)")
        guard let axis = ShapeSupport.normalizedAxis(Int(axisValues[0]), rank: input.rank) else {
            throw KernelError("axis \(axisValues[0]) is out of range for rank \(input.rank)")
        }
        try context.require(input.shape[axis] % numSplits == 0,
                            "dimension \(axis) of size \(input.shape[axis]) does not split evenly into \(numSplits)")
        var shape = input.shape
        shape[axis] /= numSplits
        var destinations: [Int] = []
        for i in 0..<numSplits {
            let o = try context.output(i)
            try context.require(o.type == input.type, "output \(i) type \(o.type) differs from input type \(input.type)")
            try context.setOutputShape(i, shape)
            destinations.append(try context.outputIndex(i))
        }
        let outer = ShapeSupport.product(input.shape, 0..<axis)
        let sliceBytes = shape[axis] * ShapeSupport.product(shape, (axis + 1)..<shape.count) * input.type.byteSize!
        let source = context.op.inputs[1]
        return ClosureKernel { t in
            var src = UnsafeRawPointer(t[source])
            for k in 0..<outer {
                for d in destinations {
                    (t[d] + k * sliceBytes).copyMemory(from: src, byteCount: sliceBytes)
                    src += sliceBytes
                }
            }
        }
    }
}
