/// The registrations of this group; the one table is `OperatorRegistry`.
/// Arithmetic, activation and quantization operators.
enum ElementwiseOperators {
    static let all: [OperatorRegistration] = [
    ]
}
