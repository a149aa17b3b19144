/// The registrations of this group; the one table is `OperatorRegistry`.
/// Shape, data movement, resizing and arg-max operators.
enum ShapeOperators {
    static let all: [OperatorRegistration] = [
        Reshape.registration,
        Squeeze.registration,
        Concatenation.registration,
        Split.registration,
        Pack.registration,
        Unpack.registration,
        Pad.registration,
        PadV2.registration,
        Transpose.registration,
        Gather.registration,
        GatherND.registration,
        StridedSlice.registration,
        ResizeBilinear.registration,
        ResizeNearestNeighbor.registration,
        ArgMax.registration,
    ]
}
