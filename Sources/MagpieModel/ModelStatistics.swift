/// Size and cost figures of a model: parameters, multiply-accumulates, operator histogram.
///
/// **Parameters** are the elements of the constant tensors that sit in an operator's weight or bias slot:
/// inputs 1 and 2 of CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED, inputs 1 and 3 of TRANSPOSE_CONV. Each tensor
/// is counted once, however many operators share it. Other constants (RESHAPE's shape, a MUL's constant operand,
/// lookup tables) are not parameters; `constantElementCount` counts every constant tensor.
/// Batch-norm is folded into the convolutions of a converted model, so MobileNetV2 1.0/224 with 1001 classes has
/// 3,489,097 parameters here, where Keras reports 3,538,984 for its 1000-class version with separate batch-norm
/// (γ, β, moving mean and variance) layers.
///
/// **Multiply-accumulates** (MACs) are counted from the shapes stored in the file:
/// - CONV_2D: output elements × filter height × filter width × filter input channels;
/// - DEPTHWISE_CONV_2D: output elements × filter height × filter width;
/// - FULLY_CONNECTED: output elements × weight columns (input depth);
/// - TRANSPOSE_CONV: input elements × filter height × filter width × output channels.
/// Every other operator (ADD, pooling, SOFTMAX, activations, data movement, BATCH_MATMUL, CONV_3D) counts 0: pooling and elementwise
/// operators do additions or one multiply per element, not multiply-accumulates in the usual sense.
/// Bias additions are not counted either, as is customary.
public struct ModelStatistics: Sendable, Equatable {
    /// Elements of the weight and bias tensors (see the type's documentation).
    public var parameterCount: Int
    /// Bytes those parameters occupy in the file.
    public var parameterByteCount: Int
    /// Elements of every constant tensor, parameters or not.
    public var constantElementCount: Int
    /// Total multiply-accumulates of one invocation.
    public var multiplyAccumulateCount: Int
    /// Multiply-accumulates of each operator, in execution order.
    public var operatorMultiplyAccumulates: [Int]
    /// How many operators of each kind (`CONV_2D`: 36, ...), keyed by display name.
    public var operatorHistogram: [String: Int]
    /// Number of operators.
    public var operatorCount: Int

    /// Computes the statistics of one subgraph of a loaded model.
    public init(model: Model, subgraph index: Int = 0) {
        self.init(operatorCodes: model.operatorCodes, subgraph: model.subgraphs[index]) { tensor in
            tensor.buffer > 0 && tensor.buffer < model.buffers.count && model.buffers[tensor.buffer] != nil
        }
    }

    /// Computes the statistics of one subgraph of a model definition (before it is written).
    public init(definition: ModelDefinition, subgraph index: Int = 0) {
        self.init(operatorCodes: definition.operatorCodes, subgraph: definition.subgraphs[index]) { tensor in
            tensor.buffer > 0 && tensor.buffer < definition.buffers.count && !definition.buffers[tensor.buffer].isEmpty
        }
    }

    /// Computes the statistics of `subgraph`; `isConstant` says which tensors carry data.
    public init(operatorCodes: [OperatorCode], subgraph: Subgraph, isConstant: (TensorDescription) -> Bool) {
        var parameterTensors = Set<Int>()
        var macs: [Int] = []
        var histogram: [String: Int] = [:]
        macs.reserveCapacity(subgraph.operators.count)
        for op in subgraph.operators {
            let code = operatorCodes[op.opcodeIndex]
            histogram[code.displayName, default: 0] += 1
            macs.append(Self.multiplyAccumulates(of: op, builtin: code.builtin, in: subgraph))
            for slot in Self.parameterSlots(of: code.builtin) where slot < op.inputs.count {
                let t = op.inputs[slot]
                if t >= 0 && t < subgraph.tensors.count && isConstant(subgraph.tensors[t]) { parameterTensors.insert(t) }
            }
        }
        var constantElements = 0
        for t in subgraph.tensors where isConstant(t) { constantElements += t.elementCount }
        var parameterBytes = 0
        var parameters = 0
        for t in parameterTensors {
            let tensor = subgraph.tensors[t]
            parameters += tensor.elementCount
            parameterBytes += tensor.elementCount * (tensor.type.byteSize ?? 0)
        }
        self.parameterCount = parameters
        self.parameterByteCount = parameterBytes
        self.constantElementCount = constantElements
        self.multiplyAccumulateCount = macs.reduce(0, +)
        self.operatorMultiplyAccumulates = macs
        self.operatorHistogram = histogram
        self.operatorCount = subgraph.operators.count
    }

    /// TRANSPOSE_CONV has no named constant in `BuiltinOperator`; its schema code.
    static let transposeConv = BuiltinOperator(rawValue: 67)

    /// The input slots that hold weights and biases for `builtin`; empty for operators without parameters.
    public static func parameterSlots(of builtin: BuiltinOperator) -> [Int] {
        switch builtin {
        case .conv2D, .depthwiseConv2D, .fullyConnected: [1, 2]
        case transposeConv: [1, 3]
        default: []
        }
    }

    /// The multiply-accumulates one invocation of `op` performs, from the shapes stored in `subgraph`
    /// (0 for operators that are not counted, or whose shapes are missing).
    public static func multiplyAccumulates(of op: OperatorDescription, builtin: BuiltinOperator, in subgraph: Subgraph) -> Int {
        func shape(input slot: Int) -> [Int]? {
            guard slot < op.inputs.count, op.inputs[slot] >= 0, op.inputs[slot] < subgraph.tensors.count else { return nil }
            return subgraph.tensors[op.inputs[slot]].shape
        }
        guard let outputIndex = op.outputs.first, outputIndex >= 0, outputIndex < subgraph.tensors.count else { return 0 }
        let outputElements = subgraph.tensors[outputIndex].elementCount
        switch builtin {
        case .conv2D:
            guard let f = shape(input: 1), f.count == 4 else { return 0 }
            return outputElements * f[1] * f[2] * f[3]
        case .depthwiseConv2D:
            guard let f = shape(input: 1), f.count == 4 else { return 0 }
            return outputElements * f[1] * f[2]
        case .fullyConnected:
            guard let w = shape(input: 1), w.count == 2 else { return 0 }
            return outputElements * w[1]
        case transposeConv:
            guard let f = shape(input: 1), f.count == 4, let x = shape(input: 2) else { return 0 }
            return x.reduce(1, *) * f[0] * f[1] * f[2]
        default:
            return 0
        }
    }
}
