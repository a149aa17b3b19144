/// Everything needed to write a .tflite file (schema v3). Buffer 0 must be the empty sentinel.
public struct ModelDefinition: Sendable {
    public var description: String
    public var operatorCodes: [OperatorCode]
    public var subgraphs: [Subgraph]
    /// Buffer contents; index 0 is the empty sentinel every TFLite file starts with.
    public var buffers: [[UInt8]]
    public var metadata: [MetadataEntry]
    public var signatures: [SignatureDef]
    /// Bytes appended after the flatbuffer (TFLite tooling appends a zip of associated files here).
    public var trailer: [UInt8]
    /// Store buffer data after the flatbuffer, addressed by `Buffer.offset`/`size` (the layout TFLite uses for
    /// models over 2 GB), instead of inside it.
    public var buffersOutsideFlatbuffer = false

    public init(description: String = "", operatorCodes: [OperatorCode] = [], subgraphs: [Subgraph] = [],
                buffers: [[UInt8]] = [[]], metadata: [MetadataEntry] = [], signatures: [SignatureDef] = [],
                trailer: [UInt8] = []) {
        self.description = description
        self.operatorCodes = operatorCodes
        self.subgraphs = subgraphs
        self.buffers = buffers
        self.metadata = metadata
        self.signatures = signatures
        self.trailer = trailer
    }

    /// Adds a buffer and returns its index.
    public mutating func addBuffer(_ bytes: [UInt8]) -> Int {
        buffers.append(bytes)
        return buffers.count - 1
    }

    /// The index of the operator code for `builtin` (and `customCode`), adding it if new.
    public mutating func operatorCodeIndex(_ builtin: BuiltinOperator, customCode: String? = nil, version: Int = 1) -> Int {
        if let i = operatorCodes.firstIndex(where: { $0.builtin == builtin && $0.customCode == customCode }) { return i }
        operatorCodes.append(OperatorCode(builtin: builtin, customCode: customCode, version: version))
        return operatorCodes.count - 1
    }
}

/// Writes `ModelDefinition`s as .tflite flatbuffers that LiteRT and `Model` both read.
public enum ModelWriter {
    /// Serialises `definition` to the bytes of a .tflite file.
    public static func serialize(_ definition: ModelDefinition) -> [UInt8] {
        guard definition.buffersOutsideFlatbuffer else { return serialize(definition, external: nil) + definition.trailer }
        // Buffer offsets depend on the flatbuffer's size, which does not depend on their values (the fields are
        // always written): write once with placeholders to learn the size, then again with the real offsets.
        let placeholders = definition.buffers.map { _ in (offset: UInt64.max, size: UInt64.max) }
        let flatbufferSize = serialize(definition, external: placeholders).count
        var offsets: [(offset: UInt64, size: UInt64)] = []
        var position = flatbufferSize
        for data in definition.buffers {
            if data.isEmpty {
                offsets.append((0, 0))
                continue
            }
            position = (position + 15) / 16 * 16
            offsets.append((UInt64(position), UInt64(data.count)))
            position += data.count
        }
        var bytes = serialize(definition, external: offsets)
        precondition(bytes.count == flatbufferSize, "flatbuffer size changed between passes")
        for (data, place) in zip(definition.buffers, offsets) where !data.isEmpty {
            bytes += [UInt8](repeating: 0, count: Int(place.offset) - bytes.count)
            bytes += data
        }
        return bytes + definition.trailer
    }

    /// The flatbuffer alone; `external` gives each buffer's offset and size when the data lives outside it.
    private static func serialize(_ definition: ModelDefinition, external: [(offset: UInt64, size: UInt64)]?) -> [UInt8] {
        let inlineBytes = external == nil ? definition.buffers.reduce(0) { $0 + $1.count } : 0
        var b = FlatBufferBuilder(capacity: 1 << 16 + inlineBytes)

        let bufferTables: [FlatBufferBuilder.Offset] = definition.buffers.enumerated().map { index, data in
            if let external, !data.isEmpty {
                b.startTable()
                b.addAlways(1, external[index].offset)
                b.addAlways(2, external[index].size)
                return b.endTable()
            }
            let vector = data.isEmpty ? nil : b.createBytes(data)
            b.startTable()
            b.add(0, vector)
            return b.endTable()
        }
        let codes: [FlatBufferBuilder.Offset] = definition.operatorCodes.map { code in
            let custom = code.customCode.map { b.createString($0) }
            b.startTable()
            b.addAlways(0, Int8(clamping: min(code.builtin.rawValue, 127)))
            b.add(1, custom)
            b.add(2, Int32(code.version), default: 1)
            b.add(3, code.builtin.rawValue, default: 0)
            return b.endTable()
        }
        let subgraphs = definition.subgraphs.map { writeSubgraph($0, codes: definition.operatorCodes, into: &b) }
        let metadata: [FlatBufferBuilder.Offset] = definition.metadata.map { m in
            let name = b.createString(m.name)
            b.startTable()
            b.add(0, name)
            b.add(1, UInt32(m.buffer), default: 0)
            return b.endTable()
        }
        let signatures: [FlatBufferBuilder.Offset] = definition.signatures.map { s in
            func maps(_ list: [(name: String, tensor: Int)]) -> FlatBufferBuilder.Offset {
                let tables = list.map { m -> FlatBufferBuilder.Offset in
                    let name = b.createString(m.name)
                    b.startTable()
                    b.add(0, name)
                    b.add(1, UInt32(m.tensor), default: 0)
                    return b.endTable()
                }
                return b.createVector(ofOffsets: tables)
            }
            let inputs = maps(s.inputs), outputs = maps(s.outputs)
            let key = b.createString(s.key)
            b.startTable()
            b.add(0, inputs)
            b.add(1, outputs)
            b.add(2, key)
            b.add(4, UInt32(s.subgraphIndex), default: 0)
            return b.endTable()
        }
        let codesVector = b.createVector(ofOffsets: codes)
        let subgraphsVector = b.createVector(ofOffsets: subgraphs)
        let description = b.createString(definition.description)
        let buffersVector = b.createVector(ofOffsets: bufferTables)
        let metadataVector = metadata.isEmpty ? nil : b.createVector(ofOffsets: metadata)
        let signaturesVector = signatures.isEmpty ? nil : b.createVector(ofOffsets: signatures)
        b.startTable()
        b.addAlways(0, UInt32(3))
        b.add(1, codesVector)
        b.add(2, subgraphsVector)
        b.add(3, description)
        b.add(4, buffersVector)
        b.add(6, metadataVector)
        b.add(7, signaturesVector)
        let root = b.endTable()
        return b.finish(root: root, fileIdentifier: "TFL3")
    }

    private static func writeSubgraph(_ g: Subgraph, codes: [OperatorCode], into b: inout FlatBufferBuilder) -> FlatBufferBuilder.Offset {
        let tensors: [FlatBufferBuilder.Offset] = g.tensors.map { t in
            var quantization: FlatBufferBuilder.Offset?
            if let q = t.quantization {
                let scales = b.createVector(q.scales)
                let zeroPoints = b.createVector(q.zeroPoints)
                b.startTable()
                b.add(2, scales)
                b.add(3, zeroPoints)
                b.add(6, Int32(q.quantizedDimension), default: 0)
                quantization = b.endTable()
            }
            let shape = b.createVector(t.shape.map { Int32(truncatingIfNeeded: $0) })
            let signature = t.shapeSignature.map { b.createVector($0.map { Int32(truncatingIfNeeded: $0) }) }
            let name = b.createString(t.name)
            b.startTable()
            b.add(0, shape)
            b.add(1, t.type.rawValue, default: 0)
            b.add(2, UInt32(t.buffer), default: 0)
            b.add(3, name)
            b.add(4, quantization)
            b.add(5, t.isVariable, default: false)
            b.add(7, signature)
            return b.endTable()
        }
        let operators: [FlatBufferBuilder.Offset] = g.operators.map { op in
            let builtin = codes[op.opcodeIndex].builtin
            let (unionType, options) = writeOptions(op.options, builtin: builtin, into: &b)
            let inputs = b.createVector(op.inputs.map { Int32(truncatingIfNeeded: $0) })
            let outputs = b.createVector(op.outputs.map { Int32(truncatingIfNeeded: $0) })
            b.startTable()
            b.add(0, UInt32(op.opcodeIndex), default: 0)
            b.add(1, inputs)
            b.add(2, outputs)
            b.add(3, unionType, default: 0)
            b.add(4, options)
            return b.endTable()
        }
        let tensorsVector = b.createVector(ofOffsets: tensors)
        let inputs = b.createVector(g.inputs.map { Int32(truncatingIfNeeded: $0) })
        let outputs = b.createVector(g.outputs.map { Int32(truncatingIfNeeded: $0) })
        let operatorsVector = b.createVector(ofOffsets: operators)
        let name = b.createString(g.name)
        b.startTable()
        b.add(0, tensorsVector)
        b.add(1, inputs)
        b.add(2, outputs)
        b.add(3, operatorsVector)
        b.add(4, name)
        return b.endTable()
    }

    /// Writes an options table; returns its union type and offset (0/nil for none).
    private static func writeOptions(_ options: OperatorOptions, builtin: BuiltinOperator,
                                     into b: inout FlatBufferBuilder) -> (UInt8, FlatBufferBuilder.Offset?) {
        let unionType = OperatorOptions.expectedUnionType(for: builtin) ?? 0
        switch options {
        case .none, .undecoded:
            // Operators whose options table is all defaults still carry an (empty) table, as the converter writes.
            guard unionType != 0 else { return (0, nil) }
            b.startTable()
            return (unionType, b.endTable())
        case let .conv2D(o):
            b.startTable()
            b.add(0, o.padding.rawValue, default: 0)
            b.add(1, Int32(o.strideWidth), default: 0)
            b.add(2, Int32(o.strideHeight), default: 0)
            b.add(3, o.activation.rawValue, default: 0)
            b.add(4, Int32(o.dilationWidth), default: 1)
            b.add(5, Int32(o.dilationHeight), default: 1)
            return (unionType, b.endTable())
        case let .depthwiseConv2D(o):
            b.startTable()
            b.add(0, o.padding.rawValue, default: 0)
            b.add(1, Int32(o.strideWidth), default: 0)
            b.add(2, Int32(o.strideHeight), default: 0)
            b.add(3, Int32(o.depthMultiplier), default: 0)
            b.add(4, o.activation.rawValue, default: 0)
            b.add(5, Int32(o.dilationWidth), default: 1)
            b.add(6, Int32(o.dilationHeight), default: 1)
            return (unionType, b.endTable())
        case let .pool2D(o):
            b.startTable()
            b.add(0, o.padding.rawValue, default: 0)
            b.add(1, Int32(o.strideWidth), default: 0)
            b.add(2, Int32(o.strideHeight), default: 0)
            b.add(3, Int32(o.filterWidth), default: 0)
            b.add(4, Int32(o.filterHeight), default: 0)
            b.add(5, o.activation.rawValue, default: 0)
            return (unionType, b.endTable())
        case let .fullyConnected(o):
            b.startTable()
            b.add(0, o.activation.rawValue, default: 0)
            b.add(1, o.weightsFormat, default: 0)
            b.add(2, o.keepNumDims, default: false)
            return (unionType, b.endTable())
        case let .softmax(beta):
            b.startTable()
            b.add(0, beta, default: 0)
            return (unionType, b.endTable())
        case let .concatenation(axis, activation):
            b.startTable()
            b.add(0, Int32(axis), default: 0)
            b.add(1, activation.rawValue, default: 0)
            return (unionType, b.endTable())
        case let .arithmetic(activation):
            b.startTable()
            b.add(0, activation.rawValue, default: 0)
            return (unionType, b.endTable())
        case let .reshape(newShape):
            let v = newShape.map { b.createVector($0.map { Int32(truncatingIfNeeded: $0) }) }
            b.startTable()
            b.add(0, v)
            return (unionType, b.endTable())
        case let .resize(alignCorners, halfPixelCenters):
            b.startTable()
            let first = builtin == .resizeBilinear ? 2 : 0
            b.add(first, alignCorners, default: false)
            b.add(first + 1, halfPixelCenters, default: false)
            return (unionType, b.endTable())
        case let .reducer(keepDims):
            b.startTable()
            b.add(0, keepDims, default: false)
            return (unionType, b.endTable())
        case let .squeeze(dims):
            let v = b.createVector(dims.map { Int32(truncatingIfNeeded: $0) })
            b.startTable()
            b.add(0, v)
            return (unionType, b.endTable())
        case let .stridedSlice(o):
            b.startTable()
            b.add(0, o.beginMask, default: 0)
            b.add(1, o.endMask, default: 0)
            b.add(2, o.ellipsisMask, default: 0)
            b.add(3, o.newAxisMask, default: 0)
            b.add(4, o.shrinkAxisMask, default: 0)
            b.add(5, o.offset, default: false)
            return (unionType, b.endTable())
        case let .split(numSplits):
            b.startTable()
            b.add(0, Int32(numSplits), default: 0)
            return (unionType, b.endTable())
        case let .pack(valuesCount, axis):
            b.startTable()
            b.add(0, Int32(valuesCount), default: 0)
            b.add(1, Int32(axis), default: 0)
            return (unionType, b.endTable())
        case let .unpack(num, axis):
            b.startTable()
            b.add(0, Int32(num), default: 0)
            b.add(1, Int32(axis), default: 0)
            return (unionType, b.endTable())
        case let .gather(axis, batchDims):
            b.startTable()
            b.add(0, Int32(axis), default: 0)
            b.add(1, Int32(batchDims), default: 0)
            return (unionType, b.endTable())
        case let .cast(input, output):
            b.startTable()
            if let input { b.addAlways(0, input.rawValue) }
            if let output { b.addAlways(1, output.rawValue) }
            return (unionType, b.endTable())
        case let .argMax(outputType):
            b.startTable()
            b.addAlways(0, outputType.rawValue)
            return (unionType, b.endTable())
        }
    }
}

extension ModelDefinition {
    /// A writable copy of a loaded model: buffers are copied, metadata entries kept. `trailer` is what to append
    /// after the new flatbuffer (for example the model's associated-files zip).
    public init(_ model: Model, trailer: [UInt8] = []) {
        self.init(description: model.modelDescription ?? "", operatorCodes: model.operatorCodes,
                  subgraphs: model.subgraphs,
                  buffers: model.buffers.map { r in r.map { model.bytes.copyBytes(in: $0) } ?? [] },
                  metadata: model.metadataEntries, signatures: model.signatures, trailer: trailer)
    }
}
