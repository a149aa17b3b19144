import MagpieModel

/// PAD: surrounds a tensor with a constant, following TFLite's `pad.cc` and `reference_ops::Pad`. Paddings are a
/// constant int32 or int64 `[rank, 2]` tensor of non-negative (before, after) counts. float32, int32, int64 and
/// unquantized int8 pad with 0 (bool with false); uint8 and quantized int8 pad with the output's zero point, which
/// must lie in the type's range. PADV2 (`PadV2`) shares this kernel and pads with its constant value instead.
enum Pad {
    static let supportedTypes: [TensorType] = ShapeSupport.movableTypes
    /// TFLite's `PadKernelMaxDimensionCount()`.
    static let maxRank = 5

    static let registration = OperatorRegistration(.pad) { context in
        try prepare(&context)
    }

    static func prepare(_ context: inout PrepareContext) throws -> Kernel {
        try context.require(context.inputCount == 2 || context.inputCount == 3,
                            "expected 2 or 3 inputs, got \(context.inputCount)")
        try context.require(context.outputCount == 1, "expected 1 output, got \(context.outputCount)")
        let input = try context.input(0)
        let paddingsTensor = try context.input(1)
        let output = try context.output(0)
        try ShapeSupport.requireType(context, input.type, in: supportedTypes)
        try context.require(output.type == input.type, "output type \(output.type) differs from input type \(input.type)")
        try context.require(input.rank <= maxRank, "input rank \(input.rank) is above \(maxRank)")
        try context.require(paddingsTensor.rank == 2 && paddingsTensor.shape[0] == input.rank && paddingsTensor.shape[1] == 2,
                            "paddings must have shape [\(input.rank), 2], got \(paddingsTensor.shape)")
        let paddings = try ShapeSupport.constantIntegers(context, input: 1, what: "a paddings tensor")
        try context.require(paddings.count == 2 * input.rank, "paddings hold \(paddings.count) values, expected \(2 * input.rank)")
        try context.require(paddings.allSatisfy { $0 >= 0 && $0 <= Int(Int32.max) }, "paddings must be non-negative, got \(paddings)")
        var before: [Int] = [], shape: [Int] = []
        for d in 0..<input.rank {
            let (left, right): (Int, Int) = (paddings[2 * d], paddings[2 * d + 1])
            before.append(left)
            shape.append(input.shape[d] + left + right)
        }
        try context.setOutputShape(0, shape)

        let elementSize = input.type.byteSize!
        // The padding value: an immediate (as little-endian bits) or, for PADV2, the constant-value tensor.
        var padBits: UInt64 = 0
        var padSource: Int?
        let quantizedPath = input.type == .uint8 || (input.type == .int8 && input.quantization != nil)
        if let valueIndex = context.inputIndex(2) {
            let value = try context.input(2)
            try context.require(value.type == input.type, "constant value type \(value.type) differs from input type \(input.type)")
            try context.require(value.elementCount == 1, "constant value must hold one element, got shape \(value.shape)")
            if quantizedPath {
                try context.require(value.zeroPoint == output.zeroPoint && value.scale == output.scale,
                                    "constant value has scale \(value.scale) and zero point \(value.zeroPoint) but the output has \(output.scale) and \(output.zeroPoint)")
            }
            padSource = valueIndex
        } else if quantizedPath {
            let range: ClosedRange<Int32> = input.type == .uint8 ? 0...255 : -128...127
            try context.require(range.contains(output.zeroPoint),
                                "output zero point \(output.zeroPoint) is outside the \(input.type) range")
            padBits = UInt64(UInt8(truncatingIfNeeded: output.zeroPoint))
        }
        let factory = PadFactory(source: context.op.inputs[0], destination: try context.outputIndex(0),
                                 inputShape: input.shape, outputShape: shape, before: before,
                                 padBits: padBits, padSource: padSource, counter: context.allocate(Int.self, count: max(1, input.rank)))
        return try ShapeSupport.make(byteSize: elementSize, factory)
    }
}

/// Builds the reference pad kernel for one element size.
struct PadFactory: ElementKernelFactory {
    let source: Int, destination: Int
    let inputShape: [Int], outputShape: [Int], before: [Int]
    let padBits: UInt64
    let padSource: Int?
    let counter: UnsafeMutablePointer<Int>

    func make<E: FixedWidthInteger>(_: E.Type) throws -> Kernel {
        let outputStrides = ShapeSupport.strides(outputShape)
        var windowStart = 0
        for d in outputShape.indices { windowStart += before[d] * outputStrides[d] }
        // The input's elements, in order, land at these output offsets.
        let window = StridedWalk(extents: inputShape, steps: outputStrides, start: windowStart)
        let immediate = E(truncatingIfNeeded: padBits)
        let outputCount = outputShape.reduce(1, *)
        let (source, destination, padSource, counter) = (source, destination, padSource, counter)
        return ClosureKernel { t in
            let input = t.pointer(source, as: E.self)
            let output = t.pointer(destination, as: E.self)
            let pad = padSource.map { t.pointer($0, as: E.self)[0] } ?? immediate
            output.update(repeating: pad, count: outputCount)
            var i = 0
            window.forEach(counter: counter) { o in
                output[o] = input[i]
                i += 1
            }
        }
    }
}
