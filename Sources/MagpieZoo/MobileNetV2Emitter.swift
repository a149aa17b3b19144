import MagpieModel

/// Writes a `MobileNetV2Network` as a `ModelDefinition` in one of the three precisions.
///
/// Tensor order follows execution: the input, then for every operator its constants followed by its output.
/// Activation tensors use the empty buffer 0; every constant has its own buffer.
enum MobileNetV2Emitter {
    struct Emitted {
        var definition: ModelDefinition
        /// Tensor index of each activation of the network, in activation order.
        var activationTensors: [Int]
    }

    /// Operator versions as the converters write them: TF1 (uint8) and float models use version 1 throughout;
    /// int8 per-channel needs CONV_2D and DEPTHWISE_CONV_2D version 3, ADD, AVERAGE_POOL_2D and SOFTMAX version 2.
    static func version(of op: BuiltinOperator, precision: BuiltinModels.Precision) -> Int {
        guard precision == .int8 else { return 1 }
        switch op {
        case .conv2D, .depthwiseConv2D: return 3
        case .add, .averagePool2D, .softmax: return 2
        default: return 1
        }
    }

    /// The definition for `precision`. `activationParameters` gives the quantization of every activation, in
    /// activation order; it is ignored (and may be empty) for float32.
    static func emit(_ net: MobileNetV2Network, precision: BuiltinModels.Precision,
                     activationParameters: [QuantizationParameters], description: String) -> Emitted {
        precondition(precision == .float32 || activationParameters.count == net.activations.count)
        let activationType: TensorType = switch precision {
        case .float32: .float32
        case .uint8: .uint8
        case .int8: .int8
        }
        var definition = ModelDefinition(description: description)
        var tensors: [TensorDescription] = []
        var operators: [OperatorDescription] = []
        var activationTensors = [Int](repeating: -1, count: net.activations.count)

        func quantization(ofActivation a: Int) -> QuantizationParameters? {
            precision == .float32 ? nil : activationParameters[a]
        }
        func addActivationTensor(_ a: Int) {
            let activation = net.activations[a]
            tensors.append(TensorDescription(name: activation.name, type: activationType, shape: activation.shape,
                                             quantization: quantization(ofActivation: a)))
            activationTensors[a] = tensors.count - 1
        }
        func addConstant(_ name: String, _ type: TensorType, _ shape: [Int], _ bytes: [UInt8],
                         _ quantization: QuantizationParameters?) -> Int {
            let buffer = definition.addBuffer(bytes)
            tensors.append(TensorDescription(name: name, type: type, shape: shape, buffer: buffer, quantization: quantization))
            return tensors.count - 1
        }
        func addOperator(_ op: BuiltinOperator, _ inputs: [Int], _ output: Int, _ options: OperatorOptions) {
            let code = definition.operatorCodeIndex(op, version: version(of: op, precision: precision))
            operators.append(OperatorDescription(opcodeIndex: code, inputs: inputs, outputs: [output], options: options))
        }

        addActivationTensor(0)
        for step in net.steps {
            switch step {
            case let .convolution(layerIndex, input, output):
                let layer = net.convolutions[layerIndex]
                let (filter, bias) = constants(of: layer, precision: precision,
                                               inputScale: quantization(ofActivation: input)?.scale ?? 0)
                let filterTensor = addConstant("\(layer.scope)/weights", filter.type, layer.filterShape, filter.bytes, filter.quantization)
                let biasTensor = addConstant("\(layer.scope)/bias", bias.type, [layer.outputChannels], bias.bytes, bias.quantization)
                addActivationTensor(output)
                let inputs = [activationTensors[input], filterTensor, biasTensor]
                switch layer.kind {
                case .conv:
                    var o = Conv2DOptions()
                    o.padding = .same
                    o.strideWidth = layer.stride; o.strideHeight = layer.stride
                    o.activation = layer.relu6 ? .relu6 : .none
                    addOperator(.conv2D, inputs, activationTensors[output], .conv2D(o))
                case .depthwise:
                    var o = DepthwiseConv2DOptions()
                    o.padding = .same
                    o.strideWidth = layer.stride; o.strideHeight = layer.stride
                    o.depthMultiplier = 1
                    o.activation = layer.relu6 ? .relu6 : .none
                    addOperator(.depthwiseConv2D, inputs, activationTensors[output], .depthwiseConv2D(o))
                }
            case let .add(a, b, output):
                addActivationTensor(output)
                addOperator(.add, [activationTensors[a], activationTensors[b]], activationTensors[output],
                            .arithmetic(activation: .none))
            case let .averagePool(input, output, filter):
                addActivationTensor(output)
                var o = Pool2DOptions()
                o.padding = .valid
                o.filterWidth = filter; o.filterHeight = filter
                o.strideWidth = 1; o.strideHeight = 1
                addOperator(.averagePool2D, [activationTensors[input]], activationTensors[output], .pool2D(o))
            case let .reshape(input, output):
                let shape = net.activations[output].shape
                let shapeTensor = addConstant("\(net.activations[output].name)/shape", .int32, [shape.count],
                                              Quantizer.littleEndianBytes(shape.map { Int32($0) }), nil)
                addActivationTensor(output)
                addOperator(.reshape, [activationTensors[input], shapeTensor], activationTensors[output], .none)
            case let .softmax(input, output):
                addActivationTensor(output)
                addOperator(.softmax, [activationTensors[input]], activationTensors[output], .softmax(beta: 1))
            }
        }
        let last = activationTensors[net.activations.count - 1]
        definition.subgraphs = [Subgraph(name: "main", tensors: tensors, inputs: [activationTensors[0]], outputs: [last],
                                         operators: operators)]
        return Emitted(definition: definition, activationTensors: activationTensors)
    }

    struct Constant {
        var type: TensorType
        var bytes: [UInt8]
        var quantization: QuantizationParameters?
    }

    /// The filter and bias tensors of `layer` in `precision`; `inputScale` is the scale of the layer's input
    /// activation (unused for float32).
    static func constants(of layer: MobileNetV2Network.Convolution, precision: BuiltinModels.Precision,
                          inputScale: Float) -> (filter: Constant, bias: Constant) {
        switch precision {
        case .float32:
            return (Constant(type: .float32, bytes: Quantizer.littleEndianBytes(layer.weights)),
                    Constant(type: .float32, bytes: Quantizer.littleEndianBytes(layer.bias)))
        case .uint8:
            let (bytes, parameters) = Quantizer.uint8PerTensor(layer.weights)
            let bias = Quantizer.int32Bias(layer.bias, inputScale: inputScale, weightScales: parameters.scales)
            return (Constant(type: .uint8, bytes: bytes, quantization: parameters),
                    Constant(type: .int32, bytes: bias.bytes, quantization: bias.parameters))
        case .int8:
            let (bytes, parameters) = Quantizer.int8PerChannel(layer.weights, channels: layer.outputChannels,
                                                               channelAxis: layer.kind == .conv ? 0 : 3)
            let bias = Quantizer.int32Bias(layer.bias, inputScale: inputScale, weightScales: parameters.scales)
            return (Constant(type: .int8, bytes: bytes, quantization: parameters),
                    Constant(type: .int32, bytes: bias.bytes, quantization: bias.parameters))
        }
    }
}
