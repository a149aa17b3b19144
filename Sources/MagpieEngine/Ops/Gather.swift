import MagpieModel

/// GATHER: picks slices along `axis` by index, with `batch_dims` leading dimensions shared by input and indices,
/// following TFLite's `gather.cc` and `reference_ops::Gather`. Output shape:
/// `input[..<axis] + indices[batch_dims...] + input[(axis+1)...]`. Indices are int32 or int64; an index outside
/// `0..<input.shape[axis]` fails the invocation with a runtime error.
enum Gather {
    static let supportedTypes: [TensorType] = ShapeSupport.movableTypes

    static let registration = OperatorRegistration(.gather) { context in
        try context.requireCounts(inputs: 2...2, outputs: 1)
        guard case let .gather(axisOption, batchDimsOption) = context.op.options else {
            throw KernelError("missing GatherOptions")
        }
        let input = try context.input(0)
        let positions = try context.input(1)
        let output = try context.output(0)
        try ShapeSupport.requireType(context, input.type, in: supportedTypes)
        try ShapeSupport.requireType(context, positions.type, in: [.int32, .int64], "indices")
        try context.require(output.type == input.type, "output type \(output.type) differs from input type \(input.type)")
        guard let axis = ShapeSupport.normalizedAxis(axisOption, rank: input.rank) else {
            throw KernelError("axis \(axisOption) is out of range for rank \(input.rank)")
        }
        let batchDims = batchDimsOption < 0 ? batchDimsOption + positions.rank : batchDimsOption
        try context.require(batchDims >= 0 && batchDims <= axis && batchDims < input.rank && batchDims <= positions.rank,
                            "batch_dims \(batchDimsOption) is out of range (axis \(axis), indices rank \(positions.rank))")
        for i in 0..<batchDims {
            try context.require(input.shape[i] == positions.shape[i],
                                "batch dimension \(i) differs: input \(input.shape), indices \(positions.shape)")
        }
        let shape = Array(input.shape[..<axis]) + Array(positions.shape[batchDims...]) + Array(input.shape[(axis + 1)...])
        try context.setOutputShape(0, shape)

        let geometry = GatherGeometry(
            batch: ShapeSupport.product(input.shape, 0..<batchDims),
            outer: ShapeSupport.product(input.shape, batchDims..<axis),
            axisSize: input.shape[axis],
            inner: ShapeSupport.product(input.shape, (axis + 1)..<input.rank),
            coordinates: ShapeSupport.product(positions.shape, batchDims..<positions.rank),
            elementSize: input.type.byteSize!)
        let (source, indices, destination) = (context.op.inputs[0], context.op.inputs[1], try context.outputIndex(0))
        switch positions.type {
        case .int32: return GatherKernel<Int32>(source: source, indices: indices, destination: destination, geometry: geometry)
        default: return GatherKernel<Int64>(source: source, indices: indices, destination: destination, geometry: geometry)
        }
    }
}

struct GatherGeometry {
    let batch: Int, outer: Int, axisSize: Int, inner: Int, coordinates: Int, elementSize: Int
}

/// Reference gather: one `inner`-element slab copied per (batch, outer, coordinate).
final class GatherKernel<Index: FixedWidthInteger>: Kernel {
    let source: Int, indices: Int, destination: Int
    let g: GatherGeometry

    init(source: Int, indices: Int, destination: Int, geometry: GatherGeometry) {
        self.source = source
        self.indices = indices
        self.destination = destination
        self.g = geometry
    }

    func invoke(_ t: TensorBuffers) throws {
        let input = UnsafeRawPointer(t[source])
        let coords = t.pointer(indices, as: Index.self)
        let output = t[destination]
        let slab = g.inner * g.elementSize
        for b in 0..<g.batch {
            for o in 0..<g.outer {
                for i in 0..<g.coordinates {
                    let coord = coords[b * g.coordinates + i]
                    guard coord >= 0 && coord < g.axisSize else {
                        throw KernelError("gather index \(coord) is out of range 0..<\(g.axisSize)")
                    }
                    let from = ((b * g.outer + o) * g.axisSize + Int(coord)) * slab
                    let to = ((b * g.outer + o) * g.coordinates + i) * slab
                    (output + to).copyMemory(from: input + from, byteCount: slab)
                }
            }
        }
    }
}
