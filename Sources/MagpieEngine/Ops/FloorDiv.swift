import MagpieModel

/// FLOOR_DIV: `floor(a / b)` computed in double precision, with TFLite broadcasting up to 4-D, following LiteRT's
/// `floor_div.cc` for float32, int32, int16 and int8. A zero anywhere in the divisor fails the invocation
/// ("division by zero"), as LiteRT does.
enum FloorDiv {
    static let registration = OperatorRegistration(.floorDiv) { context in
        try context.requireCounts(inputs: 2...2, outputs: 1)
        let x = try context.input(0), y = try context.input(1), out = try context.output(0)
        try context.require(x.type == y.type, "input types differ: \(x.type) and \(y.type)")
        try context.require(out.type == x.type, "output type \(out.type) differs from input type \(x.type)")
        try Elementwise.requireType(x, in: [.float32, .int32, .int16, .int8], "FLOOR_DIV input", context)
        let shape = try Elementwise.BroadcastShape(x.shape, y.shape, maxRank: 4)
        try context.setOutputShape(0, shape.output)
        let wiring = Elementwise.BinaryWiring(shape: shape, input1: context.op.inputs[0], input2: context.op.inputs[1],
                                              output: try context.outputIndex(0), input2Count: y.elementCount)
        switch x.type {
        case .float32: return wiring.kernel(Elementwise.FloatFloorDiv())
        case .int32: return wiring.kernel(Elementwise.IntegerFloorDiv<Int32>())
        case .int16: return wiring.kernel(Elementwise.IntegerFloorDiv<Int16>())
        default: return wiring.kernel(Elementwise.IntegerFloorDiv<Int8>())
        }
    }
}
