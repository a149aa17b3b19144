/// The registrations of this group; the one table is `OperatorRegistry`.
/// Convolution, pooling, dense and reduction operators (`Ops/Conv2D.swift`, ...).
enum ConvolutionOperators {
    static let all: [OperatorRegistration] = [
        Conv2D.registration,
        DepthwiseConv2D.registration,
        FullyConnected.registration,
        AveragePool2D.registration,
        MaxPool2D.registration,
        Mean.registration,
    ]
}
