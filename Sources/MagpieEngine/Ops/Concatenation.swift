import MagpieModel

/// CONCATENATION: joins tensors along one axis (negative axes count from the end), following TFLite's
/// `concatenation.cc` and `reference_ops::Concatenation`. All inputs share type and rank and agree on every
/// dimension but the axis. int8 inputs must share the output's scale and zero point (TFLite's restriction);
/// uint8 inputs whose scale or zero point differ from the output's are requantized exactly like
/// `reference_ops::ConcatenationWithScaling` (float scale and bias, `round` half away from zero, clamp to 0...255).
enum Concatenation {
    static let supportedTypes: [TensorType] = ShapeSupport.movableTypes

    static let registration = OperatorRegistration(.concatenation) { context in
        try context.require(context.inputCount >= 1, "expected at least 1 input, got 0")
        try context.require(context.outputCount == 1, "expected 1 output, got \(context.outputCount)")
        guard case let .concatenation(axisOption, activation) = context.op.options else {
            throw KernelError("missing ConcatenationOptions")
        }
        let first = try context.input(0)
        let output = try context.output(0)
        try ShapeSupport.requireType(context, first.type, in: supportedTypes)
        try context.require(first.rank >= 1, "concatenating scalars is not supported")
        guard let axis = ShapeSupport.normalizedAxis(axisOption, rank: first.rank) else {
            throw KernelError("axis \(axisOption) is out of range for rank \(first.rank)")
        }
        try context.require(activation == .none, "fused activation \(activation) is not supported (TFLite requires NONE)")
        try context.require(output.type == first.type, "output type \(output.type) differs from input type \(first.type)")

        var inputs: [TensorInfo] = []
        var shape = first.shape
        shape[axis] = 0
        for i in 0..<context.inputCount {
            let t = try context.input(i)
            try context.require(t.type == first.type, "input \(i) has type \(t.type), input 0 has \(first.type)")
            try context.require(t.rank == first.rank, "input \(i) has rank \(t.rank), input 0 has \(first.rank)")
            for d in 0..<t.rank where d != axis {
                try context.require(t.shape[d] == first.shape[d],
                                    "input \(i) shape \(t.shape) does not match input 0 shape \(first.shape) outside axis \(axis)")
            }
            shape[axis] += t.shape[axis]
            inputs.append(t)
        }
        try context.setOutputShape(0, shape)

        if first.type == .int8 {
            for (i, t) in inputs.enumerated() {
                try context.require(ShapeSupport.sameQuantization(t, output),
                                    "int8 input \(i) has scale \(t.scale) and zero point \(t.zeroPoint) but the output has \(output.scale) and \(output.zeroPoint); TFLite does not rescale int8 concatenation")
            }
        }
        // uint8 requantization parameters, computed in float as ConcatenationWithScaling does.
        var rescale: [(scale: Float, bias: Float)?] = []
        for (i, t) in inputs.enumerated() {
            if first.type == .uint8 && !ShapeSupport.sameQuantization(t, output) {
                try context.require(output.scale > 0, "uint8 input \(i) needs rescaling but the output has no quantization scale")
                let inverseOutputScale = 1 / output.scale
                let scale = t.scale * inverseOutputScale
                let bias = Float(-t.zeroPoint) * scale
                rescale.append((scale, bias))
            } else {
                rescale.append(nil)
            }
        }

        let outer = ShapeSupport.product(shape, 0..<axis)
        let inner = ShapeSupport.product(shape, (axis + 1)..<shape.count)
        let elementSize = first.type.byteSize!
        let sources = (0..<context.inputCount).map { context.op.inputs[$0] }
        let copyElements = inputs.map { $0.shape[axis] * inner }
        return ConcatenationKernel(sources: sources, destination: try context.outputIndex(0), outer: outer,
                                   copyElements: copyElements, elementSize: elementSize, rescale: rescale,
                                   outputZeroPoint: output.zeroPoint)
    }
}

/// Reference concatenation: per outer index, each input's slab in turn (copied, or requantized for uint8).
final class ConcatenationKernel: Kernel {
    let sources: [Int]
    let destination: Int
    let outer: Int
    let copyElements: [Int]
    let elementSize: Int
    let rescale: [(scale: Float, bias: Float)?]
    let outputZeroPoint: Int32

    init(sources: [Int], destination: Int, outer: Int, copyElements: [Int], elementSize: Int,
         rescale: [(scale: Float, bias: Float)?], outputZeroPoint: Int32) {
        self.sources = sources
        self.destination = destination
        self.outer = outer
        self.copyElements = copyElements
        self.elementSize = elementSize
        self.rescale = rescale
        self.outputZeroPoint = outputZeroPoint
    }

    func invoke(_ t: TensorBuffers) throws {
        var out = t[destination]
        for k in 0..<outer {
            for i in sources.indices {
                let n = copyElements[i]
                let bytes = n * elementSize
                let src = t[sources[i]] + k * bytes
                if let r = rescale[i] {
                    let s = src.assumingMemoryBound(to: UInt8.self)
                    let d = out.assumingMemoryBound(to: UInt8.self)
                    for j in 0..<n {
                        // TfLiteRound(input * scale + bias) + output_zero_point, clamped to [0, 255].
                        let product = Float(s[j]) * r.scale
                        let value = ShapeSupport.truncatingToInt32((product + r.bias).rounded(.toNearestOrAwayFromZero)) &+ outputZeroPoint
                        d[j] = UInt8(min(255, max(0, value)))
                    }
                } else {
                    out.copyMemory(from: src, byteCount: bytes)
                }
                out += bytes
            }
        }
    }
}
