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
/// The weights imitate a trained network's folded batch-norm without any data: each layer is normalised against a
/// mean-field estimate of its input's per-channel mean and variance, the way batch-norm normalises against batch
/// statistics.
///
/// Each convolution draws from its own stream, `SplitMix64(seed: seed, stream: layer index)`, in this order: one
/// batch-norm γ per output channel, uniform in [0.6, 1.4]; one batch-norm β per output channel; then the raw
/// filter in file order (OHWI, or 1HWC for depthwise), each value uniform in [-1, 1). β is uniform with standard
/// deviation 0.1 τ, plus τγ before a RELU6 (so a RELU6's input sits about one standard deviation above 0). Given
/// the per-channel mean μᵢ and variance vᵢ of the layer's input, output channel o's pre-activation has mean
/// mₒ = Σ wₒᵢ μᵢ and variance sₒ = Σ wₒᵢ² vᵢ (sums over taps and input channels; inputs taken as independent).
/// The layer is then folded like batch-norm: the filter is multiplied by kₒ = τ γₒ / √sₒ and the bias is
/// βₒ − kₒ mₒ, so the pre-activation is estimated to have mean βₒ and standard deviation τ γₒ (He-style
/// scaling with a per-channel, data-free batch-norm).
///
/// The statistics then propagate: a linear output has mean β and variance (τγ)²; a RELU6 output is taken as the
/// rectified normal N(β, (τγ)²) (clipping at 6 ignored), whose mean τγ·f(r) and second moment (τγ)²·g(r),
/// r = β/(τγ), are expanded to second order around r = 1 with the constants Φ(1) and φ(1) written out, so no
/// transcendental function is called and every platform computes the same bits; a residual ADD sums means and
/// variances; the 7×7 average pool keeps the means and divides the variances by 6 rather than 49, because
/// neighbouring positions are strongly correlated (tuned so the logits spread as intended on the synthetic
/// images). The input image, normalised to [-1, 1], counts as mean 0, variance 1/3.
///
/// τ is 1.5 before each RELU6, 1.0 for a projection that starts a stage, 0.5 for a projection that feeds a
/// residual ADD (so repeated additions grow the signal slowly), and 2.5 for the logits.
///
/// Why this shape: with plain He initialisation the channel means propagate and the globally pooled features are
/// dominated by an input-independent component, so every image gets the same class. Centering every channel
/// fixes that, but a random ReLU network centred on 0 is chaotic: a small perturbation (quantization noise) grows
/// by about 1.5× per layer, and the quantized variants would disagree with the float one. Biasing each RELU6 input
/// one standard deviation above 0 keeps the predictions input-dependent while quantization noise stays small
/// (about 30 dB signal-to-noise at the logits), as in a trained network.
///
/// The weights are NOT pretrained: the predictions mean nothing.
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
    static let tauLogits = 2.5
    /// Offset of a RELU6 input's mean, in standard deviations; the statistics expand around it, so
    /// `normalCDFAt1` and `normalPDFAt1` must change with it.
    static let reluOffset = 1.0
    /// Φ(1) and φ(1), the standard normal distribution and density at 1.
    static let normalCDFAt1 = 0.841_344_746_068_542_9
    static let normalPDFAt1 = 0.241_970_724_519_143_37
    /// Variance reduction assumed for the 7×7 average pool (see the type's documentation).
    static let poolVarianceDivisor = 6.0

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
        var statistics = ChannelStatistics(mean: [Double](repeating: 0, count: 3),
                                           variance: [Double](repeating: 1.0 / 3.0, count: 3))

        func convolve(_ scope: String, _ kind: Convolution.Kind, to outChannels: Int, kernel: Int, stride: Int,
                      relu6: Bool, tau: Double, outputName: String) {
            spatial = (spatial + stride - 1) / stride
            let (layer, output) = makeConvolution(scope: scope, kind: kind, inputChannels: channels,
                                                  outputChannels: outChannels, kernel: kernel, stride: stride,
                                                  relu6: relu6, tau: tau, input: statistics)
            convolutions.append(layer)
            statistics = output
            let out = addActivation(outputName, [1, spatial, spatial, outChannels], relu6 ? .relu6 : .linear)
            steps.append(.convolution(layer: convolutions.count - 1, input: current, output: out))
            current = out
            channels = outChannels
        }

        convolve("MobilenetV2/Conv", .conv, to: Self.firstChannels, kernel: 3, stride: 2, relu6: true, tau: Self.tauRelu6,
                 outputName: "MobilenetV2/Conv/Relu6")
        var blockIndex = 0
        for setting in Self.blockSettings {
            for repeatIndex in 0..<setting.repeats {
                let stride = repeatIndex == 0 ? setting.stride : 1
                let scope = blockIndex == 0 ? "MobilenetV2/expanded_conv" : "MobilenetV2/expanded_conv_\(blockIndex)"
                let blockInput = current, blockInputStatistics = statistics
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
                    for c in 0..<channels {
                        statistics.mean[c] += blockInputStatistics.mean[c]
                        statistics.variance[c] += blockInputStatistics.variance[c]
                    }
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
        for c in 0..<channels { statistics.variance[c] /= Self.poolVarianceDivisor }
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

    /// Mean-field estimate of each channel's mean and variance over positions and images.
    struct ChannelStatistics {
        var mean: [Double]
        var variance: [Double]
    }

    /// Draws one layer's γ, β and raw filter from its own stream and folds them against the input statistics
    /// (see the type's documentation); returns the layer and the estimated statistics of its output.
    private func makeConvolution(scope: String, kind: Convolution.Kind, inputChannels: Int, outputChannels: Int,
                                 kernel: Int, stride: Int, relu6: Bool, tau: Double,
                                 input: ChannelStatistics) -> (Convolution, ChannelStatistics) {
        var rng = SplitMix64(seed: seed, stream: UInt64(convolutions.count))
        // A uniform variable on [-a, a] has standard deviation a / √3.
        let betaAmplitude = 3.0.squareRoot() * Self.betaFraction * tau
        var gamma = [Double](repeating: 0, count: outputChannels)
        for c in 0..<outputChannels { gamma[c] = Double(1 + Self.gammaSpread * rng.nextSignedUnitFloat()) }
        var beta = [Double](repeating: 0, count: outputChannels)
        for c in 0..<outputChannels {
            beta[c] = betaAmplitude * Double(rng.nextSignedUnitFloat()) + (relu6 ? Self.reluOffset * tau * gamma[c] : 0)
        }
        let taps = kernel * kernel
        let count = outputChannels * taps * (kind == .conv ? inputChannels : 1)
        var weights = [Float](repeating: 0, count: count)
        var preMean = [Double](repeating: 0, count: outputChannels)
        var preVariance = [Double](repeating: 0, count: outputChannels)
        var bias = [Float](repeating: 0, count: outputChannels)
        weights.withUnsafeMutableBufferPointer { w in
            for i in 0..<count { w[i] = rng.nextSignedUnitFloat() }
            switch kind {
            case .conv:
                input.mean.withUnsafeBufferPointer { mean in
                    input.variance.withUnsafeBufferPointer { variance in
                        var k = 0
                        for o in 0..<outputChannels {
                            var m = 0.0, v = 0.0
                            for _ in 0..<taps {
                                for i in 0..<inputChannels {
                                    let x = Double(w[k])
                                    m += x * mean[i]
                                    v += x * x * variance[i]
                                    k += 1
                                }
                            }
                            preMean[o] = m
                            preVariance[o] = v
                        }
                    }
                }
            case .depthwise:
                for tap in 0..<taps {
                    for c in 0..<outputChannels {
                        let x = Double(w[tap * outputChannels + c])
                        preMean[c] += x * input.mean[c]
                        preVariance[c] += x * x * input.variance[c]
                    }
                }
            }
            // Fold the data-free batch-norm: scale each output channel, set its bias.
            let scale = (0..<outputChannels).map { o in tau * gamma[o] / max(preVariance[o], 1e-12).squareRoot() }
            let scaleFloat = scale.map(Float.init)
            switch kind {
            case .conv:
                let perChannel = taps * inputChannels
                for o in 0..<outputChannels {
                    for k in 0..<perChannel { w[o * perChannel + k] *= scaleFloat[o] }
                }
            case .depthwise:
                for tap in 0..<taps {
                    for c in 0..<outputChannels { w[tap * outputChannels + c] *= scaleFloat[c] }
                }
            }
            for o in 0..<outputChannels { bias[o] = Float(beta[o] - scale[o] * preMean[o]) }
        }
        var output = ChannelStatistics(mean: beta, variance: [Double](repeating: 0, count: outputChannels))
        for o in 0..<outputChannels {
            let s = tau * gamma[o]
            if relu6 {
                // f(r) = rΦ(r) + φ(r), f' = Φ, f'' = φ;  g(r) = (r² + 1)Φ(r) + rφ(r), g' = 2rΦ + 2φ, g'' = 2Φ.
                let cdf = Self.normalCDFAt1, pdf = Self.normalPDFAt1, d = beta[o] / s - 1
                let f = (cdf + pdf) + cdf * d + pdf * d * d / 2
                let g = (2 * cdf + pdf) + (2 * cdf + 2 * pdf) * d + cdf * d * d
                let mean = s * f
                let secondMoment = s * s * g
                output.mean[o] = mean
                output.variance[o] = max(secondMoment - mean * mean, 1e-12)
            } else {
                output.variance[o] = s * s
            }
        }
        let layer = Convolution(scope: scope, kind: kind, inputChannels: inputChannels, outputChannels: outputChannels,
                                kernelSize: kernel, stride: stride, relu6: relu6, weights: weights, bias: bias)
        return (layer, output)
    }
}
