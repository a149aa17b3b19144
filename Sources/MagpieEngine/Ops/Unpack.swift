import MagpieModel

/// UNPACK: splits a tensor along `axis` into `num` tensors of one rank less, following TFLite's `unpack.cc` and
/// `reference_ops::Unpack`; `num` must equal the axis size and every output must carry the input's scale and zero
/// point.
enum Unpack {
    static let supportedTypes: [TensorType] = [.float32, .uint8, .int8, .int32, .bool]

    static let registration = OperatorRegistration(.unpack) { context in
        guard case let .unpack(num, axisOption) = context.op.options else { throw KernelError("missing UnpackOptions") }
        try context.require(context.inputCount == 1, "expected 1 input, got \(context.inputCount)")
        try context.require(context.outputCount == num, "num is \(num) but the operator has \(context.outputCount) outputs")
        let input = try context.input(0)
        try ShapeSupport.requireType(context, input.type, in: supportedTypes)
        try context.require(input.elementCount > 0, "input \(input.shape) is empty")
        guard let axis = ShapeSupport.normalizedAxis(axisOption, rank: input.rank) else {
            throw KernelError("axis \(axisOption) is out of range for rank \(input.rank)")
        }
        try context.require(num == input.shape[axis], "num is \(num) but dimension \(axis) of \(input.shape) has size \(input.shape[axis])")
        var shape = input.shape
        shape.remove(at: axis)
        var destinations: [Int] = []
        for i in 0..<num {
            let o = try context.output(i)
            try context.require(o.type == input.type, "output \(i) type \(o.type) differs from input type \(input.type)")
            try context.require(ShapeSupport.sameQuantization(input, o),
                                "output \(i) has scale \(o.scale) and zero point \(o.zeroPoint) but the input has \(input.scale) and \(input.zeroPoint); UNPACK does not rescale")
            try context.setOutputShape(i, shape)
            destinations.append(try context.outputIndex(i))
        }
        let outer = ShapeSupport.product(input.shape, 0..<axis)
        let sliceBytes = ShapeSupport.product(input.shape, (axis + 1)..<input.rank) * input.type.byteSize!
        let source = context.op.inputs[0]
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
