/// MobileNetV2 1.0/224 (Sandler et al., "MobileNetV2: Inverted Residuals and Linear Bottlenecks", CVPR 2018) as
/// the TensorFlow converters lay it out in a .tflite file, with deterministic pseudo-random weights.
///
/// Layout (the same 66 operators as the Coral/TF `mobilenet_v2_1.0_224_quant.tflite`):
/// - input [1, 224, 224, 3];
/// - CONV_2D 3×3 stride 2, 32 channels, RELU6;
/// - 17 inverted-residual blocks, settings (expansion t, channels c, repeats n, stride s of the first repeat)
///   (1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1):
///   expansion CONV_2D 1×1 + RELU6 (absent when t = 1), DEPTHWISE_CONV_2D 3×3 + RELU6, projection CONV_2D 1×1
///   without activation, and ADD of the block input when the stride is 1 and the channel count is unchanged (10 times);
/// - CONV_2D 1×1, 1280 channels, RELU6; AVERAGE_POOL_2D 7×7 VALID; CONV_2D 1×1 to 1001 logits;
///   RESHAPE to [1, 1001]; SOFTMAX.
/// All convolutions use SAME padding and carry their (folded batch-norm) bias.
///
/// ## Weights
/// Each convolution draws from its own stream, `SplitMix64(seed: seed, stream: layer index)`: first one "batch-norm
/// γ" per output channel, uniform in [1 − 0.4, 1 + 0.4]; then one "batch-norm β" per output channel (the folded
/// bias), uniform with standard deviation 0.1 τ; then the filter in file order (OHWI, or 1HWC for depthwise), each
/// weight uniform with standard deviation σ = τ / √(fan-in · m), times its channel's γ. Here fan-in is
/// kernel height × width × input channels (× 1 for depthwise), τ is the pre-activation RMS the layer aims at, and m
/// is the second moment E[x²] of the layer's input, tracked analytically from the normalised image (m = 1/3 for a
/// uniform [-1, 1] input): a layer's output has m = τ²·E[γ²] + (0.1 τ)², halved by RELU6 (a symmetric
/// pre-activation loses half its energy), and a residual ADD sums the moments of its inputs. After the 7×7
/// average pool the moment is taken as m/π, that of the mean of a half-normal variable. This is He initialisation
/// with a batch-norm-like rescaling per layer, so activations neither vanish nor explode through the 17 blocks.
/// τ is 1.5 before each RELU6, 1.0 for a projection that starts a stage, 0.5 for a projection that feeds a residual
/// ADD (so repeated additions grow the signal slowly), and 4.0 for the logits, which makes the softmax neither flat
/// nor one-hot (top-1 probability around 0.05–0.4 on the synthetic images).
///
/// The weights are NOT pretrained: the predictions mean nothing. With random weights the globally pooled features
/// are dominated by an input-independent component, so a few classes tend to win on most inputs.
struct MobileNetV2Network {
    /// Expansion factor, output channels, repeats, stride of the first repeat (the paper's table 2).
    static let blockSettings: [(expansion: Int, channels: Int, repeats: Int, stride: Int)] = [
        (1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1),
    ]
    static let inputSize = 224
    static let firstChannels = 32
    static let lastChannels = 1280
    static let classCount = 1001

    // Initialisation constants (see the type's documentation).
    static let gammaSpread: Float = 0.4
    static let betaFraction = 0.1
    static let tauRelu6 = 1.5
    static let tauProjection = 1.0
    static let tauResidual = 0.5
    static let tauLogits = 4.0

    /// One convolution with its float weights (batch-norm folded in).
    struct Convolution {
        enum Kind { case conv, depthwise }
        /// The TF-slim scope, e.g. `MobilenetV2/expanded_conv_3/expand`.
        var scope: String
        var kind: Kind
        var inputChannels: Int
        var outputChannels: Int
        var kernelSize: Int
        var stride: Int
        var relu6: Bool
        /// OHWI for `conv`, 1HWC for `depthwise`.
        var weights: [Float]
        var bias: [Float]

        var filterShape: [Int] {
            kind == .conv ? [outputChannels, kernelSize, kernelSize, inputChannels] : [1, kernelSize, kernelSize, outputChannels]
        }
    }

    /// How an activation tensor's quantization is chosen.
    enum ActivationKind: Equatable {
        /// The graph input (fixed quantization per precision).
        case input
        /// A RELU6 output: calibrated maximum, limited to [0, 6].
        case relu6
        /// A linear output (projection, ADD, logits): calibrated range.
        case linear
        /// Must share the quantization of activation `n` (AVERAGE_POOL_2D, RESHAPE).
        case sameAs(Int)
        /// The softmax output (fixed quantization per precision).
        case softmax
    }

    struct Activation {
        var name: String
        var shape: [Int]
        var kind: ActivationKind
    }

    /// One operator of the graph, in execution order; numbers are activation indices.
    enum Step {
        case convolution(layer: Int, input: Int, output: Int)
        case add(Int, Int, output: Int)
        case averagePool(input: Int, output: Int, filter: Int)
        case reshape(input: Int, output: Int)
        case softmax(input: Int, output: Int)
    }

    private(set) var convolutions: [Convolution] = []
    private(set) var activations: [Activation] = []
    private(set) var steps: [Step] = []
    let seed: UInt64

    /// Builds the graph and draws every weight from `seed`.
    init(seed: UInt64) {
        self.seed = seed
        let size0 = Self.inputSize
        var current = addActivation("input", [1, size0, size0, 3], .input)
        var spatial = size0
        var channels = 3
        var moment = 1.0 / 3.0

        func convolve(_ scope: String, _ kind: Convolution.Kind, to outChannels: Int, kernel: Int, stride: Int,
                      relu6: Bool, tau: Double, outputName: String) {
            spatial = (spatial + stride - 1) / stride
            let layer = makeConvolution(scope: scope, kind: kind, inputChannels: channels, outputChannels: outChannels,
                                        kernel: kernel, stride: stride, relu6: relu6, tau: tau, inputMoment: moment)
            convolutions.append(layer)
            let out = addActivation(outputName, [1, spatial, spatial, outChannels], relu6 ? .relu6 : .linear)
            steps.append(.convolution(layer: convolutions.count - 1, input: current, output: out))
            current = out
            channels = outChannels
            let gammaSquared = 1.0 + Double(Self.gammaSpread * Self.gammaSpread) / 3.0
            moment = (tau * tau * gammaSquared + (Self.betaFraction * tau) * (Self.betaFraction * tau)) * (relu6 ? 0.5 : 1.0)
        }

        convolve("MobilenetV2/Conv", .conv, to: Self.firstChannels, kernel: 3, stride: 2, relu6: true, tau: Self.tauRelu6,
                 outputName: "MobilenetV2/Conv/Relu6")
        var blockIndex = 0
        for setting in Self.blockSettings {
            for repeatIndex in 0..<setting.repeats {
                let stride = repeatIndex == 0 ? setting.stride : 1
                let scope = blockIndex == 0 ? "MobilenetV2/expanded_conv" : "MobilenetV2/expanded_conv_\(blockIndex)"
                let blockInput = current, blockInputMoment = moment
                let residual = stride == 1 && channels == setting.channels
                if setting.expansion != 1 {
                    convolve("\(scope)/expand", .conv, to: channels * setting.expansion, kernel: 1, stride: 1,
                             relu6: true, tau: Self.tauRelu6, outputName: "\(scope)/expand/Relu6")
                }
                convolve("\(scope)/depthwise", .depthwise, to: channels, kernel: 3, stride: stride, relu6: true,
                         tau: Self.tauRelu6, outputName: "\(scope)/depthwise/Relu6")
                convolve("\(scope)/project", .conv, to: setting.channels, kernel: 1, stride: 1, relu6: false,
                         tau: residual ? Self.tauResidual : Self.tauProjection, outputName: "\(scope)/project/BatchNorm")
                if residual {
                    let sum = addActivation("\(scope)/add", [1, spatial, spatial, channels], .linear)
                    steps.append(.add(current, blockInput, output: sum))
                    current = sum
                    moment += blockInputMoment
                }
                blockIndex += 1
            }
        }
        convolve("MobilenetV2/Conv_1", .conv, to: Self.lastChannels, kernel: 1, stride: 1, relu6: true, tau: Self.tauRelu6,
                 outputName: "MobilenetV2/Conv_1/Relu6")
        let pooled = addActivation("MobilenetV2/Logits/AvgPool", [1, 1, 1, channels], .sameAs(current))
        steps.append(.averagePool(input: current, output: pooled, filter: spatial))
        current = pooled
        spatial = 1
        moment /= Double.pi
        convolve("MobilenetV2/Logits/Conv2d_1c_1x1", .conv, to: Self.classCount, kernel: 1, stride: 1, relu6: false,
                 tau: Self.tauLogits, outputName: "MobilenetV2/Logits/Conv2d_1c_1x1/BiasAdd")
        let squeezed = addActivation("MobilenetV2/Logits/Squeeze", [1, Self.classCount], .sameAs(current))
        steps.append(.reshape(input: current, output: squeezed))
        let probabilities = addActivation("MobilenetV2/Predictions/Softmax", [1, Self.classCount], .softmax)
        steps.append(.softmax(input: squeezed, output: probabilities))
    }

    private mutating func addActivation(_ name: String, _ shape: [Int], _ kind: ActivationKind) -> Int {
        activations.append(Activation(name: name, shape: shape, kind: kind))
        return activations.count - 1
    }

    /// Draws one layer's γ, β and filter from its own stream (see the type's documentation for the order).
    private func makeConvolution(scope: String, kind: Convolution.Kind, inputChannels: Int, outputChannels: Int,
                                 kernel: Int, stride: Int, relu6: Bool, tau: Double, inputMoment: Double) -> Convolution {
        var rng = SplitMix64(seed: seed, stream: UInt64(convolutions.count))
        let fanIn = kernel * kernel * (kind == .conv ? inputChannels : 1)
        // A uniform variable on [-a, a] has standard deviation a / √3.
        let amplitude = Float(3.0.squareRoot() * tau / (Double(fanIn) * inputMoment).squareRoot())
        let betaAmplitude = Float(3.0.squareRoot() * Self.betaFraction * tau)
        var gamma = [Float](repeating: 0, count: outputChannels)
        for c in 0..<outputChannels { gamma[c] = 1 + Self.gammaSpread * rng.nextSignedUnitFloat() }
        var bias = [Float](repeating: 0, count: outputChannels)
        for c in 0..<outputChannels { bias[c] = betaAmplitude * rng.nextSignedUnitFloat() }
        let count = outputChannels * kernel * kernel * (kind == .conv ? inputChannels : 1)
        var weights = [Float](repeating: 0, count: count)
        weights.withUnsafeMutableBufferPointer { w in
            switch kind {
            case .conv:
                let perChannel = kernel * kernel * inputChannels
                for o in 0..<outputChannels {
                    let a = amplitude * gamma[o]
                    for k in 0..<perChannel { w[o * perChannel + k] = a * rng.nextSignedUnitFloat() }
                }
            case .depthwise:
                for tap in 0..<(kernel * kernel) {
                    for c in 0..<outputChannels { w[tap * outputChannels + c] = amplitude * gamma[c] * rng.nextSignedUnitFloat() }
                }
            }
        }
        return Convolution(scope: scope, kind: kind, inputChannels: inputChannels, outputChannels: outputChannels,
                           kernelSize: kernel, stride: stride, relu6: relu6, weights: weights, bias: bias)
    }
}
