/// Element types of TFLite tensors (schema `TensorType`).
public enum TensorType: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case float32 = 0, float16 = 1, int32 = 2, uint8 = 3, int64 = 4, string = 5, bool = 6, int16 = 7
    case complex64 = 8, int8 = 9, float64 = 10, complex128 = 11, uint64 = 12, resource = 13, variant = 14
    case uint32 = 15, uint16 = 16, int4 = 17, bfloat16 = 18

    /// Bytes per element; nil for types without a fixed element size (string, resource, variant, int4).
    public var byteSize: Int? {
        switch self {
        case .bool, .uint8, .int8: return 1
        case .float16, .int16, .uint16, .bfloat16: return 2
        case .float32, .int32, .uint32: return 4
        case .int64, .uint64, .float64, .complex64: return 8
        case .complex128: return 16
        case .string, .resource, .variant, .int4: return nil
        }
    }

    /// The lower-case name used by the command line and JSON (`float32`, `uint8`, ...).
    public var description: String {
        switch self {
        case .float32: "float32"
        case .float16: "float16"
        case .int32: "int32"
        case .uint8: "uint8"
        case .int64: "int64"
        case .string: "string"
        case .bool: "bool"
        case .int16: "int16"
        case .complex64: "complex64"
        case .int8: "int8"
        case .float64: "float64"
        case .complex128: "complex128"
        case .uint64: "uint64"
        case .resource: "resource"
        case .variant: "variant"
        case .uint32: "uint32"
        case .uint16: "uint16"
        case .int4: "int4"
        case .bfloat16: "bfloat16"
        }
    }
}

/// A TFLite builtin operator code. Unknown codes are kept as they are so they can be reported by name or number.
public struct BuiltinOperator: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// The schema's name (`CONV_2D`), or `BUILTIN_<code>` for a code this schema does not know.
    public var name: String {
        rawValue >= 0 && Int(rawValue) < Self.schemaNames.count ? Self.schemaNames[Int(rawValue)] : "BUILTIN_\(rawValue)"
    }
    public var description: String { name }

    public static let add = Self(rawValue: 0)
    public static let averagePool2D = Self(rawValue: 1)
    public static let concatenation = Self(rawValue: 2)
    public static let conv2D = Self(rawValue: 3)
    public static let depthwiseConv2D = Self(rawValue: 4)
    public static let dequantize = Self(rawValue: 6)
    public static let fullyConnected = Self(rawValue: 9)
    public static let logistic = Self(rawValue: 14)
    public static let maxPool2D = Self(rawValue: 17)
    public static let mul = Self(rawValue: 18)
    public static let relu = Self(rawValue: 19)
    public static let reluN1To1 = Self(rawValue: 20)
    public static let relu6 = Self(rawValue: 21)
    public static let reshape = Self(rawValue: 22)
    public static let resizeBilinear = Self(rawValue: 23)
    public static let softmax = Self(rawValue: 25)
    public static let tanh = Self(rawValue: 28)
    public static let custom = Self(rawValue: 32)
    public static let pad = Self(rawValue: 34)
    public static let gather = Self(rawValue: 36)
    public static let transpose = Self(rawValue: 39)
    public static let mean = Self(rawValue: 40)
    public static let sub = Self(rawValue: 41)
    public static let div = Self(rawValue: 42)
    public static let squeeze = Self(rawValue: 43)
    public static let stridedSlice = Self(rawValue: 45)
    public static let split = Self(rawValue: 49)
    public static let cast = Self(rawValue: 53)
    public static let argMax = Self(rawValue: 56)
    public static let padV2 = Self(rawValue: 60)
    public static let sqrt = Self(rawValue: 75)
    public static let pack = Self(rawValue: 83)
    public static let unpack = Self(rawValue: 88)
    public static let floorDiv = Self(rawValue: 90)
    public static let resizeNearestNeighbor = Self(rawValue: 97)
    public static let gatherND = Self(rawValue: 107)
    public static let quantize = Self(rawValue: 114)
    public static let hardSwish = Self(rawValue: 117)
}

/// Activation fused into an operator (schema `ActivationFunctionType`).
public enum FusedActivation: UInt8, Sendable {
    case none = 0, relu = 1, reluN1To1 = 2, relu6 = 3, tanh = 4, signBit = 5
}

/// Convolution and pooling padding (schema `Padding`).
public enum Padding: UInt8, Sendable {
    case same = 0, valid = 1
}

public struct Conv2DOptions: Sendable, Equatable {
    public var padding: Padding = .same
    public var strideWidth = 1, strideHeight = 1
    public var dilationWidth = 1, dilationHeight = 1
    public var activation: FusedActivation = .none
    public init() {}
}

public struct DepthwiseConv2DOptions: Sendable, Equatable {
    public var padding: Padding = .same
    public var strideWidth = 1, strideHeight = 1
    public var dilationWidth = 1, dilationHeight = 1
    public var depthMultiplier = 1
    public var activation: FusedActivation = .none
    public init() {}
}

public struct Pool2DOptions: Sendable, Equatable {
    public var padding: Padding = .same
    public var strideWidth = 1, strideHeight = 1
    public var filterWidth = 1, filterHeight = 1
    public var activation: FusedActivation = .none
    public init() {}
}

public struct FullyConnectedOptions: Sendable, Equatable {
    public var activation: FusedActivation = .none
    /// 0 = default layout; anything else (shuffled int8 weights) is not supported.
    public var weightsFormat: UInt8 = 0
    public var keepNumDims = false
    public init() {}
}

public struct StridedSliceOptions: Sendable, Equatable {
    public var beginMask: Int32 = 0, endMask: Int32 = 0, ellipsisMask: Int32 = 0
    public var newAxisMask: Int32 = 0, shrinkAxisMask: Int32 = 0
    public var offset = false
    public init() {}
}

/// An operator's typed options, decoded once when the model is read.
public enum OperatorOptions: Sendable, Equatable {
    case none
    case conv2D(Conv2DOptions)
    case depthwiseConv2D(DepthwiseConv2DOptions)
    case pool2D(Pool2DOptions)
    case fullyConnected(FullyConnectedOptions)
    case softmax(beta: Float)
    case concatenation(axis: Int, activation: FusedActivation)
    /// ADD, SUB, MUL, DIV.
    case arithmetic(activation: FusedActivation)
    case reshape(newShape: [Int]?)
    case resize(alignCorners: Bool, halfPixelCenters: Bool)
    case reducer(keepDims: Bool)
    case squeeze(dims: [Int])
    case stridedSlice(StridedSliceOptions)
    case split(numSplits: Int)
    case pack(valuesCount: Int, axis: Int)
    case unpack(num: Int, axis: Int)
    case gather(axis: Int, batchDims: Int)
    case cast(input: TensorType?, output: TensorType?)
    case argMax(outputType: TensorType)
    /// Options this reader does not decode (the union type is kept).
    case undecoded(unionType: UInt8)
}

/// How a tensor's integers map to real numbers: `real = scale * (q - zeroPoint)`, per tensor or per channel.
public struct QuantizationParameters: Sendable, Equatable {
    public var scales: [Float]
    public var zeroPoints: [Int64]
    /// The axis the scales run along when there is more than one.
    public var quantizedDimension: Int

    public init(scales: [Float], zeroPoints: [Int64], quantizedDimension: Int = 0) {
        self.scales = scales
        self.zeroPoints = zeroPoints
        self.quantizedDimension = quantizedDimension
    }

    /// The single scale of a per-tensor quantized tensor.
    public var scale: Float { scales.first ?? 0 }
    /// The single zero point of a per-tensor quantized tensor.
    public var zeroPoint: Int { Int(zeroPoints.first ?? 0) }
    /// True when there is more than one scale.
    public var isPerChannel: Bool { scales.count > 1 }
}
