extension OperatorOptions {
    /// The `BuiltinOptions` union member each supported operator carries.
    static func expectedUnionType(for op: BuiltinOperator) -> UInt8? {
        switch op {
        case .conv2D: 1
        case .depthwiseConv2D: 2
        case .averagePool2D, .maxPool2D: 5
        case .fullyConnected: 8
        case .softmax: 9
        case .concatenation: 10
        case .add: 11
        case .resizeBilinear: 15
        case .reshape: 17
        case .mul: 21
        case .gather: 23
        case .mean: 27
        case .sub: 28
        case .div: 29
        case .squeeze: 30
        case .stridedSlice: 32
        case .split: 35
        case .cast: 37
        case .argMax: 40
        case .pack: 59
        case .unpack: 64
        case .resizeNearestNeighbor: 74
        default: nil
        }
    }

    /// Decodes the options of operator table `op` for builtin `builtin`.
    static func read(from op: FlatTable, builtin: BuiltinOperator) throws -> OperatorOptions {
        let unionType = try op.scalar(3, UInt8(0))
        let table = try op.table(4)
        guard let expected = expectedUnionType(for: builtin) else {
            return unionType == 0 ? .none : .undecoded(unionType: unionType)
        }
        if unionType != 0 && unionType != expected {
            throw ModelError.malformed("\(builtin.name) carries options of union type \(unionType), expected \(expected)")
        }
        // Absent options decode as the schema's defaults (an empty table).
        func int(_ slot: Int, _ d: Int32 = 0) throws -> Int { Int(try table?.scalar(slot, d) ?? d) }
        func int32(_ slot: Int) throws -> Int32 { try table?.scalar(slot, Int32(0)) ?? 0 }
        func flag(_ slot: Int) throws -> Bool { try table?.bool(slot, false) ?? false }
        func activation(_ slot: Int) throws -> FusedActivation {
            let raw = try table?.scalar(slot, UInt8(0)) ?? 0
            guard let a = FusedActivation(rawValue: raw) else {
                throw ModelError.malformed("\(builtin.name) has unknown fused activation \(raw)")
            }
            return a
        }
        func padding(_ slot: Int) throws -> Padding {
            let raw = try table?.scalar(slot, UInt8(0)) ?? 0
            guard let p = Padding(rawValue: raw) else { throw ModelError.malformed("\(builtin.name) has unknown padding \(raw)") }
            return p
        }
        func tensorType(_ slot: Int) throws -> TensorType? {
            guard let t = table, try t.has(slot) else { return nil }
            let raw = try t.scalar(slot, UInt8(0))
            guard let type = TensorType(rawValue: raw) else { throw ModelError.malformed("\(builtin.name) names unknown type \(raw)") }
            return type
        }
        switch builtin {
        case .conv2D:
            var o = Conv2DOptions()
            o.padding = try padding(0)
            o.strideWidth = try int(1); o.strideHeight = try int(2)
            o.activation = try activation(3)
            o.dilationWidth = try int(4, 1); o.dilationHeight = try int(5, 1)
            return .conv2D(o)
        case .depthwiseConv2D:
            var o = DepthwiseConv2DOptions()
            o.padding = try padding(0)
            o.strideWidth = try int(1); o.strideHeight = try int(2)
            o.depthMultiplier = try int(3)
            o.activation = try activation(4)
            o.dilationWidth = try int(5, 1); o.dilationHeight = try int(6, 1)
            return .depthwiseConv2D(o)
        case .averagePool2D, .maxPool2D:
            var o = Pool2DOptions()
            o.padding = try padding(0)
            o.strideWidth = try int(1); o.strideHeight = try int(2)
            o.filterWidth = try int(3); o.filterHeight = try int(4)
            o.activation = try activation(5)
            return .pool2D(o)
        case .fullyConnected:
            var o = FullyConnectedOptions()
            o.activation = try activation(0)
            o.weightsFormat = try table?.scalar(1, UInt8(0)) ?? 0
            o.keepNumDims = try flag(2)
            return .fullyConnected(o)
        case .softmax:
            return .softmax(beta: try table?.float(0, 0) ?? 0)
        case .concatenation:
            return .concatenation(axis: try int(0), activation: try activation(1))
        case .add, .sub, .mul, .div:
            return .arithmetic(activation: try activation(0))
        case .reshape:
            guard let t = table, try t.has(0) else { return .reshape(newShape: nil) }
            return .reshape(newShape: try t.scalars(0, as: Int32.self).map(Int.init))
        case .resizeBilinear:
            return .resize(alignCorners: try flag(2), halfPixelCenters: try flag(3))
        case .resizeNearestNeighbor:
            return .resize(alignCorners: try flag(0), halfPixelCenters: try flag(1))
        case .mean:
            return .reducer(keepDims: try flag(0))
        case .squeeze:
            return .squeeze(dims: try table?.scalars(0, as: Int32.self).map(Int.init) ?? [])
        case .stridedSlice:
            var o = StridedSliceOptions()
            o.beginMask = try int32(0); o.endMask = try int32(1); o.ellipsisMask = try int32(2)
            o.newAxisMask = try int32(3); o.shrinkAxisMask = try int32(4); o.offset = try flag(5)
            return .stridedSlice(o)
        case .split:
            return .split(numSplits: try int(0))
        case .pack:
            return .pack(valuesCount: try int(0), axis: try int(1))
        case .unpack:
            return .unpack(num: try int(0), axis: try int(1))
        case .gather:
            return .gather(axis: try int(0), batchDims: try int(1))
        case .cast:
            return .cast(input: try tensorType(0), output: try tensorType(1))
        case .argMax:
            return .argMax(outputType: try tensorType(0) ?? .int64)
        default:
            return .none
        }
    }
}
