import MagpieModel

/// GATHER_ND: gathers slices of `params` addressed by the index tuples in the last dimension of `indices`,
/// following TFLite's `gather_nd.cc` and `reference_ops::GatherNd`. Output shape:
/// `indices.shape[..<last] + params.shape[indices.shape[last]...]`. Indices are int32 or int64; a coordinate outside
/// its dimension fails the invocation with a runtime error (TFLite 2.x only checks that the slice lies inside the
/// tensor).
enum GatherND {
    static let supportedTypes: [TensorType] = ShapeSupport.movableTypes

    static let registration = OperatorRegistration(.gatherND) { context in
        try context.requireCounts(inputs: 2...2, outputs: 1)
        let params = try context.input(0)
        let indices = try context.input(1)
        let output = try context.output(0)
        try ShapeSupport.requireType(context, params.type, in: supportedTypes, "params")
        try ShapeSupport.requireType(context, indices.type, in: [.int32, .int64], "indices")
        try context.require(output.type == params.type, "output type \(output.type) differs from params type \(params.type)")
        try context.require(params.rank >= 1, "params must be at least a vector")
        try context.require(indices.rank >= 1, "indices must be at least a vector")
        let nd = indices.shape[indices.rank - 1]
        try context.require(nd <= params.rank, "index tuples of length \(nd) exceed params rank \(params.rank)")
        let shape = Array(indices.shape[..<(indices.rank - 1)]) + Array(params.shape[nd...])
        try context.setOutputShape(0, shape)
        try context.require(params.elementCount > 0 || indices.elementCount == 0, "params \(params.shape) is empty")
        let strides = ShapeSupport.strides(params.shape)
        let geometry = GatherNDGeometry(
            slices: ShapeSupport.product(indices.shape, 0..<(indices.rank - 1)), nd: nd,
            dims: Array(params.shape[..<nd]), strides: Array(strides[..<nd]),
            sliceBytes: ShapeSupport.product(params.shape, nd..<params.rank) * params.type.byteSize!,
            elementSize: params.type.byteSize!)
        let (source, index, destination) = (context.op.inputs[0], context.op.inputs[1], try context.outputIndex(0))
        switch indices.type {
        case .int32: return GatherNDKernel<Int32>(source: source, indices: index, destination: destination, geometry: geometry)
        default: return GatherNDKernel<Int64>(source: source, indices: index, destination: destination, geometry: geometry)
        }
    }
}

struct GatherNDGeometry {
    let slices: Int, nd: Int
    let dims: [Int], strides: [Int]
    let sliceBytes: Int, elementSize: Int
}

/// Reference GATHER_ND: each index tuple selects one contiguous slice of `params`.
final class GatherNDKernel<Index: FixedWidthInteger>: Kernel {
    let source: Int, indices: Int, destination: Int
    let g: GatherNDGeometry

    init(source: Int, indices: Int, destination: Int, geometry: GatherNDGeometry) {
        self.source = source
        self.indices = indices
        self.destination = destination
        self.g = geometry
    }

    func invoke(_ t: TensorBuffers) throws {
        let params = UnsafeRawPointer(t[source])
        let index = t.pointer(indices, as: Index.self)
        let output = t[destination]
        for i in 0..<g.slices {
            var from = 0
            for j in 0..<g.nd {
                let c = index[i * g.nd + j]
                guard c >= 0 && c < g.dims[j] else {
                    throw KernelError("gather_nd index \(c) is out of range 0..<\(g.dims[j]) in dimension \(j)")
                }
                from += Int(c) * g.strides[j]
            }
            (output + i * g.sliceBytes).copyMemory(from: params + from * g.elementSize, byteCount: g.sliceBytes)
        }
    }
}
