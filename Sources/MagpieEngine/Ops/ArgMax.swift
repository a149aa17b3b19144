import MagpieModel

/// ARG_MAX: the index of the largest value along the axis given by input 1 (a constant one-element int32 or int64
/// tensor, negative counting from the end), following TFLite's `arg_min_max.cc` and `ArgMinMax`: the first index
/// wins ties; for float32 a NaN never wins and any number beats a NaN held so far (an all-NaN row gives 0).
/// The output type (int32 or int64) is the options' `output_type`, which the output tensor must have.
///
/// NaN caveat: LiteRT's ARG_MAX has no separate reference kernel; on x86 its float last-axis path is a 4-lane SIMD
/// scan (NEON translated to SSE) whose NaN handling depends on SSE max operand order, so rows holding NaNs can give
/// other indices there (e.g. `[NaN, 1, 2, 3, 0, 0, 0]` gives 4). Magpie follows the reference comparator above; for
/// NaN-free data the results agree (ties included).
enum ArgMax {
    static let supportedTypes: [TensorType] = [.float32, .uint8, .int8, .int32, .bool]

    static let registration = OperatorRegistration(.argMax) { context in
        try context.requireCounts(inputs: 2...2, outputs: 1)
        guard case let .argMax(outputType) = context.op.options else { throw KernelError("missing ArgMaxOptions") }
        let input = try context.input(0)
        let axisTensor = try context.input(1)
        let output = try context.output(0)
        try ShapeSupport.requireType(context, input.type, in: supportedTypes)
        try context.require(outputType == .int32 || outputType == .int64, "output_type must be int32 or int64, got \(outputType)")
        try context.require(output.type == outputType, "output tensor type \(output.type) differs from output_type \(outputType)")
        try context.require(axisTensor.elementCount == 1, "axis must hold one value, got shape \(axisTensor.shape)")
        let axisValues = try ShapeSupport.constantIntegers(context, input: 1, what: "an axis")
        try context.require(input.rank >= 1, "input must have at least one dimension")
        guard let axis = ShapeSupport.normalizedAxis(axisValues[0], rank: input.rank) else {
            throw KernelError("axis \(axisValues[0]) is out of range for rank \(input.rank)")
        }
        try context.require(input.shape[axis] > 0, "cannot compute ArgMax over an empty axis")
        var shape = input.shape
        shape.remove(at: axis)
        try context.setOutputShape(0, shape)
        let g = ArgMaxGeometry(outer: ShapeSupport.product(input.shape, 0..<axis), axisSize: input.shape[axis],
                               inner: ShapeSupport.product(input.shape, (axis + 1)..<input.rank))
        let (s, d) = (context.op.inputs[0], try context.outputIndex(0))
        func make<O: FixedWidthInteger>(_: O.Type) -> Kernel {
            switch input.type {
            case .float32: return ArgMaxKernel<Float, O>(source: s, destination: d, g: g)
            case .uint8: return ArgMaxKernel<UInt8, O>(source: s, destination: d, g: g)
            case .int8: return ArgMaxKernel<Int8, O>(source: s, destination: d, g: g)
            case .int32: return ArgMaxKernel<Int32, O>(source: s, destination: d, g: g)
            default: return ArgMaxKernel<BoolByte, O>(source: s, destination: d, g: g)
            }
        }
        return outputType == .int32 ? make(Int32.self) : make(Int64.self)
    }
}

struct ArgMaxGeometry {
    let outer: Int, axisSize: Int, inner: Int
}

/// The comparison `ArgMinMax` uses for arg-max: `candidate > current`, NaN-aware for floats.
protocol ArgMaxElement {
    static func beats(_ candidate: Self, _ current: Self) -> Bool
}

extension UInt8: ArgMaxElement { static func beats(_ a: UInt8, _ b: UInt8) -> Bool { a > b } }
extension Int8: ArgMaxElement { static func beats(_ a: Int8, _ b: Int8) -> Bool { a > b } }
extension Int32: ArgMaxElement { static func beats(_ a: Int32, _ b: Int32) -> Bool { a > b } }
/// A bool tensor element read as its byte, so any byte value is safe to load (true beats false).
struct BoolByte: ArgMaxElement {
    let raw: UInt8
    static func beats(_ a: BoolByte, _ b: BoolByte) -> Bool { a.raw != 0 && b.raw == 0 }
}
extension Float: ArgMaxElement {
    static func beats(_ a: Float, _ b: Float) -> Bool { !a.isNaN && (b.isNaN || a > b) }
}

/// Reference arg-max over the middle axis of an `[outer, axisSize, inner]` view.
final class ArgMaxKernel<T: ArgMaxElement, O: FixedWidthInteger>: Kernel {
    let source: Int, destination: Int
    let g: ArgMaxGeometry

    init(source: Int, destination: Int, g: ArgMaxGeometry) {
        self.source = source
        self.destination = destination
        self.g = g
    }

    @_specialize(where T == UInt8, O == Int64)
    @_specialize(where T == UInt8, O == Int32)
    @_specialize(where T == Float, O == Int64)
    @_specialize(where T == Int8, O == Int64)
    func invoke(_ t: TensorBuffers) throws {
        let input = t.pointer(source, as: T.self)
        let output = t.pointer(destination, as: O.self)
        for outer in 0..<g.outer {
            for inner in 0..<g.inner {
                var best = input[outer * g.axisSize * g.inner + inner]
                var bestIndex = 0
                for i in 1..<g.axisSize {
                    let value = input[(outer * g.axisSize + i) * g.inner + inner]
                    if T.beats(value, best) {
                        best = value
                        bestIndex = i
                    }
                }
                output[outer * g.inner + inner] = O(bestIndex)
            }
        }
    }
}
