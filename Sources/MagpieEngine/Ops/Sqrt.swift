import MagpieModel

/// SQRT: elementwise square root of float32 (`std::sqrt`; negative inputs give NaN), as LiteRT's `elementwise.cc`.
enum Sqrt {
    struct Operation: Elementwise.UnaryOperation {
        @inline(__always) func apply(_ x: Float) -> Float { x.squareRoot() }
    }

    static let registration = OperatorRegistration(.sqrt) { context in
        try context.requireCounts(inputs: 1...1, outputs: 1)
        let x = try context.input(0), out = try context.output(0)
        try Elementwise.requireType(x, in: [.float32], "SQRT input", context)
        try context.require(out.type == x.type, "output type \(out.type) differs from input type \(x.type)")
        try context.setOutputShape(0, x.shape)
        return Elementwise.unaryKernel(Operation(), input: context.op.inputs[0], output: try context.outputIndex(0),
                                       count: x.elementCount)
    }
}
