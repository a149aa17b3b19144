import MagpieModel

/// CAST between float32, int64, int32, int16, uint8, int8 and bool, following LiteRT's `cast.cc`: integer to
/// integer is C++'s `static_cast` (two's-complement wrap), integer to float rounds to nearest, float to integer
/// truncates toward zero and saturates at the type's limits (NaN becomes the maximum), anything to bool is
/// `x != 0`, and bool is 0 or 1.
enum Cast {
    struct IntegerToInteger<In: FixedWidthInteger, Out: FixedWidthInteger>: Elementwise.UnaryOperation {
        @inline(__always) func apply(_ x: In) -> Out { Out(truncatingIfNeeded: x) }
    }

    struct IntegerToFloat<In: FixedWidthInteger>: Elementwise.UnaryOperation {
        @inline(__always) func apply(_ x: In) -> Float { Float(x) }
    }

    /// `SaturatingCastFloatingToInteger`.
    struct FloatToInteger<Out: FixedWidthInteger>: Elementwise.UnaryOperation {
        let lowest: Float, highest: Float

        init() {
            lowest = Float(Out.min)
            var high = Float(Out.max)
            // Float(Out.max) rounds up for 32- and 64-bit types: step back to the largest float below the limit.
            if high >= Float(sign: .plus, exponent: Out.bitWidth - (Out.isSigned ? 1 : 0), significand: 1) {
                high = high.nextDown
            }
            highest = high
        }

        @inline(__always) func apply(_ x: Float) -> Out {
            if x.isNaN { return Out.max }
            if x < lowest { return Out.min }
            if x > highest { return Out.max }
            return Out(x)
        }
    }

    struct IntegerToBool<In: FixedWidthInteger>: Elementwise.UnaryOperation {
        @inline(__always) func apply(_ x: In) -> UInt8 { x != 0 ? 1 : 0 }
    }

    struct FloatToBool: Elementwise.UnaryOperation {
        @inline(__always) func apply(_ x: Float) -> UInt8 { x != 0 ? 1 : 0 }
    }

    struct BoolToInteger<Out: FixedWidthInteger>: Elementwise.UnaryOperation {
        @inline(__always) func apply(_ x: UInt8) -> Out { x != 0 ? 1 : 0 }
    }

    struct BoolToFloat: Elementwise.UnaryOperation {
        @inline(__always) func apply(_ x: UInt8) -> Float { x != 0 ? 1 : 0 }
    }

    struct Identity<T>: Elementwise.UnaryOperation {
        @inline(__always) func apply(_ x: T) -> T { x }
    }

    static let supported: [TensorType] = [.float32, .int64, .int32, .int16, .uint8, .int8, .bool]

    static let registration = OperatorRegistration(.cast) { context in
        try context.requireCounts(inputs: 1...1, outputs: 1)
        let x = try context.input(0), out = try context.output(0)
        try Elementwise.requireType(x, in: supported, "CAST input", context)
        try Elementwise.requireType(out, in: supported, "CAST output", context)
        try context.setOutputShape(0, x.shape)
        let input = context.op.inputs[0], output = try context.outputIndex(0), count = x.elementCount
        func make<Op: Elementwise.UnaryOperation>(_ op: Op) -> Kernel {
            Elementwise.unaryKernel(op, input: input, output: output, count: count)
        }
        func fromInteger<In: FixedWidthInteger>(_: In.Type) -> Kernel {
            switch out.type {
            case .float32: return make(IntegerToFloat<In>())
            case .int64: return make(IntegerToInteger<In, Int64>())
            case .int32: return make(IntegerToInteger<In, Int32>())
            case .int16: return make(IntegerToInteger<In, Int16>())
            case .uint8: return make(IntegerToInteger<In, UInt8>())
            case .int8: return make(IntegerToInteger<In, Int8>())
            default: return make(IntegerToBool<In>())
            }
        }
        switch x.type {
        case .float32:
            switch out.type {
            case .float32: return make(Identity<Float>())
            case .int64: return make(FloatToInteger<Int64>())
            case .int32: return make(FloatToInteger<Int32>())
            case .int16: return make(FloatToInteger<Int16>())
            case .uint8: return make(FloatToInteger<UInt8>())
            case .int8: return make(FloatToInteger<Int8>())
            default: return make(FloatToBool())
            }
        case .bool:
            switch out.type {
            case .float32: return make(BoolToFloat())
            case .int64: return make(BoolToInteger<Int64>())
            case .int32: return make(BoolToInteger<Int32>())
            case .int16: return make(BoolToInteger<Int16>())
            case .uint8: return make(BoolToInteger<UInt8>())
            case .int8: return make(BoolToInteger<Int8>())
            default: return make(BoolToInteger<UInt8>())
            }
        case .int64: return fromInteger(Int64.self)
        case .int32: return fromInteger(Int32.self)
        case .int16: return fromInteger(Int16.self)
        case .uint8: return fromInteger(UInt8.self)
        default: return fromInteger(Int8.self)
        }
    }
}
