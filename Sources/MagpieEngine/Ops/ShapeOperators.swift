/// The registrations of this group; the one table is `OperatorRegistry`.
/// Shape, data movement, resizing and arg-max operators.
enum ShapeOperators {
    static let all: [OperatorRegistration] = [
        Reshape.registration,
    ]
}
