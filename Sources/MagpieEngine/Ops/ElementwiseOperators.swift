/// The registrations of this group; the one table is `OperatorRegistry`.
/// Arithmetic, activation and quantization operators.
enum ElementwiseOperators {
    static let all: [OperatorRegistration] = [
        Add.registration,
        Sub.registration,
        Mul.registration,
        Div.registration,
        FloorDiv.registration,
        Sqrt.registration,
        Softmax.registration,
        Logistic.registration,
        Tanh.registration,
        Relu.registration,
        Relu6.registration,
        ReluN1To1.registration,
        HardSwish.registration,
        Quantize.registration,
        Dequantize.registration,
        Cast.registration,
    ]
}
