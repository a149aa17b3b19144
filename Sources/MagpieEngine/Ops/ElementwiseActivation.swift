import Foundation
import MagpieModel

// Shared prepare steps of the activation operators (LOGISTIC, TANH, RELU, RELU6, RELU_N1_TO_1).

extension Elementwise {
    /// LOGISTIC/TANH: float32 through `float`; uint8/int8 through a 256-entry table of `transform` (TFLite's
    /// `LUTPopulate`), where `quantized` validates the quantization and returns the transform.
    static func prepareActivation<F: UnaryOperation>(
        _ name: String, _ context: inout PrepareContext, float: F,
        quantized: (TensorInfo, TensorInfo, PrepareContext) throws -> (Float) -> Float
    ) throws -> Kernel where F.Input == Float, F.Output == Float {
        try context.requireCounts(inputs: 1...1, outputs: 1)
        let x = try context.input(0), out = try context.output(0)
        try context.require(x.type == out.type, "output type \(out.type) differs from input type \(x.type)")
        try requireType(x, in: [.float32, .uint8, .int8], "\(name) input", context)
        try context.setOutputShape(0, x.shape)
        let input = context.op.inputs[0], output = try context.outputIndex(0), count = x.elementCount
        if x.type == .float32 { return unaryKernel(float, input: input, output: output, count: count) }
        try TFLiteQuantization.requirePerTensor(x, "input", context)
        try TFLiteQuantization.requirePerTensor(out, "output", context)
        let transform = try quantized(x, out, context)
        if x.type == .uint8 {
            let table = LookupTables.populate(&context, as: UInt8.self, inputScale: x.scale, inputZeroPoint: x.zeroPoint,
                                             outputScale: out.scale, outputZeroPoint: out.zeroPoint, transform: transform)
            return unaryKernel(table, input: input, output: output, count: count)
        }
        let table = LookupTables.populate(&context, as: Int8.self, inputScale: x.scale, inputZeroPoint: x.zeroPoint,
                                         outputScale: out.scale, outputZeroPoint: out.zeroPoint, transform: transform)
        return unaryKernel(table, input: input, output: output, count: count)
    }

    /// TFLite's `QuantizedReluX`: requantize by `inputScale / outputScale` (a float ratio) and clamp to the
    /// activation bounds quantized on the output (`zp + (int)roundf(bound / scale)`, within the type).
    struct QuantizedRelu<T: QuantizedElement>: UnaryOperation {
        let inputOffset: Int32, outputOffset: Int32
        let multiplier: Int32, shift: Int
        let lo: Int32, hi: Int32

        @inline(__always) func apply(_ x: T) -> T {
            let value = outputOffset &+ QuantizedArithmetic.multiplyByQuantizedMultiplier(Int32(x) &- inputOffset,
                                                                                          multiplier, shift)
            return T(truncatingIfNeeded: min(hi, max(lo, value)))
        }
    }

    /// RELU, RELU6, RELU_N1_TO_1: float32 through `float`; uint8/int8 through `QuantizedRelu` with the real bounds
    /// `lower` and `upper` (`.infinity` for none).
    static func prepareRelu<F: UnaryOperation>(_ name: String, _ context: inout PrepareContext, float: F,
                                               lower: Float, upper: Float) throws -> Kernel
    where F.Input == Float, F.Output == Float {
        try context.requireCounts(inputs: 1...1, outputs: 1)
        let x = try context.input(0), out = try context.output(0)
        try context.require(x.type == out.type, "output type \(out.type) differs from input type \(x.type)")
        try requireType(x, in: [.float32, .uint8, .int8], "\(name) input", context)
        try context.setOutputShape(0, x.shape)
        let input = context.op.inputs[0], output = try context.outputIndex(0), count = x.elementCount
        if x.type == .float32 { return unaryKernel(float, input: input, output: output, count: count) }
        try TFLiteQuantization.requirePerTensor(x, "input", context)
        try TFLiteQuantization.requirePerTensor(out, "output", context)
        func make<T: QuantizedElement>(_: T.Type) throws -> Kernel {
            try TFLiteQuantization.requireZeroPoint(x, "input", as: T.self, context)
            try TFLiteQuantization.requireZeroPoint(out, "output", as: T.self, context)
            let m = TFLiteQuantization.quantizeMultiplier(Double(x.scale / out.scale))
            try context.require(m.shift <= 30, "input scale \(x.scale) is too large for output scale \(out.scale)")
            let zp = out.zeroPoint
            let lo = max(Int32(T.min), zp &+ CppMath.int32(CppMath.round(lower / out.scale)))
            let hi = upper == .infinity ? Int32(T.max)
                : min(Int32(T.max), zp &+ CppMath.int32(CppMath.round(upper / out.scale)))
            let op = QuantizedRelu<T>(inputOffset: x.zeroPoint, outputOffset: zp, multiplier: m.multiplier,
                                      shift: m.shift, lo: lo, hi: hi)
            if context.kernels == .optimized, let fast = QuantizedElementwise.lookupTable(op, input: input, output: output, count: count, &context) { return fast }
            return unaryKernel(op, input: input, output: output, count: count)
        }
        return x.type == .uint8 ? try make(UInt8.self) : try make(Int8.self)
    }
}
