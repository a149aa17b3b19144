/// One tensor of a subgraph, as declared in the model file.
public struct TensorDescription: Sendable, Equatable {
    public var name: String
    public var type: TensorType
    public var shape: [Int]
    /// The shape with -1 for dimensions that may vary (batch), when the model says so.
    public var shapeSignature: [Int]?
    /// Index into `Model.buffers`; 0 is the empty sentinel buffer.
    public var buffer: Int
    public var quantization: QuantizationParameters?
    public var isVariable: Bool

    public init(name: String, type: TensorType, shape: [Int], shapeSignature: [Int]? = nil, buffer: Int = 0,
                quantization: QuantizationParameters? = nil, isVariable: Bool = false) {
        self.name = name
        self.type = type
        self.shape = shape
        self.shapeSignature = shapeSignature
        self.buffer = buffer
        self.quantization = quantization
        self.isVariable = isVariable
    }

    /// Number of elements (product of the shape).
    public var elementCount: Int { shape.reduce(1, *) }
}

/// An entry of the model's operator-code table.
public struct OperatorCode: Sendable, Equatable {
    /// The builtin code: the larger of `deprecated_builtin_code` and `builtin_code`, as the schema prescribes.
    public var builtin: BuiltinOperator
    public var customCode: String?
    public var version: Int

    public init(builtin: BuiltinOperator, customCode: String? = nil, version: Int = 1) {
        self.builtin = builtin
        self.customCode = customCode
        self.version = version
    }

    /// `CONV_2D`, or `custom op 'name'`.
    public var displayName: String {
        builtin == .custom ? "custom op '\(customCode ?? "")'" : builtin.name
    }
}

/// One operator of a subgraph.
public struct OperatorDescription: Sendable, Equatable {
    public var opcodeIndex: Int
    /// Tensor indices; -1 marks an omitted optional input.
    public var inputs: [Int]
    public var outputs: [Int]
    public var options: OperatorOptions

    public init(opcodeIndex: Int, inputs: [Int], outputs: [Int], options: OperatorOptions = .none) {
        self.opcodeIndex = opcodeIndex
        self.inputs = inputs
        self.outputs = outputs
        self.options = options
    }
}

/// A subgraph: tensors, operators in execution order, and the graph's inputs and outputs.
public struct Subgraph: Sendable, Equatable {
    public var name: String
    public var tensors: [TensorDescription]
    public var inputs: [Int]
    public var outputs: [Int]
    public var operators: [OperatorDescription]

    public init(name: String = "", tensors: [TensorDescription], inputs: [Int], outputs: [Int],
                operators: [OperatorDescription]) {
        self.name = name
        self.tensors = tensors
        self.inputs = inputs
        self.outputs = outputs
        self.operators = operators
    }
}

/// A named entry point into a subgraph (schema `SignatureDef`).
public struct SignatureDef: Sendable, Equatable {
    public var key: String
    public var subgraphIndex: Int
    /// Signature input names with their tensor indices in the subgraph.
    public var inputs: [(name: String, tensor: Int)]
    public var outputs: [(name: String, tensor: Int)]

    public static func == (a: Self, b: Self) -> Bool {
        a.key == b.key && a.subgraphIndex == b.subgraphIndex
            && a.inputs.elementsEqual(b.inputs, by: { $0 == $1 }) && a.outputs.elementsEqual(b.outputs, by: { $0 == $1 })
    }
}

/// A `Model.metadata` entry: a name and the buffer holding its bytes.
public struct MetadataEntry: Sendable, Equatable {
    public var name: String
    public var buffer: Int
}

/// A validated TFLite model (schema v3) over the file's bytes.
///
/// Reading checks every index, offset and length, so code that holds a `Model` can index its tables without
/// further checks. Tensor data is not copied: `data(ofBuffer:)` returns a view into the mapped file.
/// `Model` is immutable and `Sendable`: one loaded model can back any number of interpreters on any threads.
public final class Model: Sendable {
    /// The file's bytes (mapped or owned).
    public let bytes: ModelBytes
    public let version: UInt32
    public let modelDescription: String?
    public let operatorCodes: [OperatorCode]
    public let subgraphs: [Subgraph]
    /// Byte ranges of each buffer's data within `bytes`; nil for an empty buffer.
    public let buffers: [Range<Int>?]
    public let metadataEntries: [MetadataEntry]
    public let signatures: [SignatureDef]

    /// Maps and reads the model at `path`.
    /// - Throws: `ModelError` saying what is wrong with the file.
    public convenience init(contentsOfFile path: String) throws {
        try self.init(bytes: try ModelBytes(contentsOfFile: path))
    }

    /// Reads a model from bytes already in memory.
    public convenience init(data: some Collection<UInt8>) throws {
        try self.init(bytes: ModelBytes(copying: data))
    }

    /// Reads and validates the model in `bytes`.
    /// - Throws: `ModelError` saying what is wrong.
    public init(bytes: ModelBytes) throws {
        self.bytes = bytes
        let reader = FlatBufferReader(bytes: bytes.buffer, range: 0..<bytes.count, owner: bytes)
        guard bytes.count >= 8 else { throw ModelError.truncated("file of \(bytes.count) bytes is too small") }
        guard reader.fileIdentifier() == "TFL3" else {
            throw ModelError.notTFLite("file identifier is not 'TFL3'")
        }
        let root = try reader.root()
        version = try root.scalar(0, UInt32(0))
        guard version == 3 else { throw ModelError.unsupportedSchemaVersion(version) }
        modelDescription = try root.string(3)

        operatorCodes = try root.tables(1).map { t in
            let deprecated = Int32(try t.scalar(0, Int8(0)))
            let code = try t.scalar(3, Int32(0))
            return OperatorCode(builtin: BuiltinOperator(rawValue: max(deprecated, code)),
                                customCode: try t.string(1), version: Int(try t.scalar(2, Int32(1))))
        }

        let fileSize = bytes.count
        buffers = try root.tables(4).enumerated().map { index, t in
            let offset = try t.scalar(1, UInt64(0))
            let size = try t.scalar(2, UInt64(0))
            if offset > 1 {
                guard offset <= UInt64(fileSize), size <= UInt64(fileSize) - offset else {
                    throw ModelError.truncated("buffer \(index) at offset \(offset) size \(size) lies outside the \(fileSize)-byte file")
                }
                return size == 0 ? nil : Int(offset)..<Int(offset + size)
            }
            guard let v = try t.vector(0, elementSize: 1), v.count > 0 else { return nil }
            return v.byteRange
        }

        metadataEntries = try root.tables(6).map { t in
            MetadataEntry(name: try t.string(0) ?? "", buffer: Int(try t.scalar(1, UInt32(0))))
        }

        let subgraphTables = try root.tables(2)
        guard !subgraphTables.isEmpty else { throw ModelError.malformed("the model has no subgraph") }
        var subgraphs: [Subgraph] = []
        for (index, t) in subgraphTables.enumerated() {
            subgraphs.append(try Model.readSubgraph(t, index: index, operatorCodes: operatorCodes))
        }
        self.subgraphs = subgraphs

        signatures = try root.tables(7).map { t in
            func maps(_ slot: Int) throws -> [(name: String, tensor: Int)] {
                try t.tables(slot).map { m in (try m.string(0) ?? "", Int(try m.scalar(1, UInt32(0)))) }
            }
            return SignatureDef(key: try t.string(2) ?? "", subgraphIndex: Int(try t.scalar(4, UInt32(0))),
                                inputs: try maps(0), outputs: try maps(1))
        }
        try validate()
    }

    /// The bytes of buffer `index` (empty for none). The view stays valid while this model is alive.
    public func data(ofBuffer index: Int) -> UnsafeRawBufferPointer {
        guard index >= 0, index < buffers.count, let r = buffers[index] else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(rebasing: bytes.buffer[r])
    }

    /// The bytes of the metadata entry called `name`, if there is one.
    public func metadata(named name: String) -> UnsafeRawBufferPointer? {
        guard let e = metadataEntries.first(where: { $0.name == name }) else { return nil }
        return data(ofBuffer: e.buffer)
    }

    /// The operator-code entry of an operator.
    public func operatorCode(of op: OperatorDescription) -> OperatorCode { operatorCodes[op.opcodeIndex] }

    /// The main subgraph (index 0).
    public var mainSubgraph: Subgraph { subgraphs[0] }

    private static func readSubgraph(_ t: FlatTable, index: Int, operatorCodes: [OperatorCode]) throws -> Subgraph {
        var tensors: [TensorDescription] = []
        for (ti, tt) in try t.tables(0).enumerated() {
            let rawType = try tt.scalar(1, UInt8(0))
            guard let type = TensorType(rawValue: rawType) else {
                throw ModelError.invalidTensor("tensor \(ti) has unknown type \(rawType)")
            }
            let shape = try tt.scalars(0, as: Int32.self).map(Int.init)
            let signature = try tt.has(7) ? try tt.scalars(7, as: Int32.self).map(Int.init) : nil
            var quantization: QuantizationParameters?
            if let q = try tt.table(4) {
                let scales = try q.floats(2)
                let zeroPoints = try q.scalars(3, as: Int64.self)
                if !scales.isEmpty {
                    quantization = QuantizationParameters(scales: scales, zeroPoints: zeroPoints,
                                                          quantizedDimension: Int(try q.scalar(6, Int32(0))))
                }
            }
            tensors.append(TensorDescription(
                name: try tt.string(3) ?? "", type: type, shape: shape, shapeSignature: signature,
                buffer: Int(try tt.scalar(2, UInt32(0))), quantization: quantization,
                isVariable: try tt.bool(5, false)))
        }
        var operators: [OperatorDescription] = []
        for ot in try t.tables(3) {
            let opcodeIndex = Int(try ot.scalar(0, UInt32(0)))
            guard opcodeIndex < operatorCodes.count else {
                throw ModelError.badIndex(what: "operator code", index: opcodeIndex, count: operatorCodes.count)
            }
            let options = try OperatorOptions.read(from: ot, builtin: operatorCodes[opcodeIndex].builtin)
            operators.append(OperatorDescription(
                opcodeIndex: opcodeIndex,
                inputs: try ot.scalars(1, as: Int32.self).map(Int.init),
                outputs: try ot.scalars(2, as: Int32.self).map(Int.init),
                options: options))
        }
        return Subgraph(name: try t.string(4) ?? "", tensors: tensors,
                        inputs: try t.scalars(1, as: Int32.self).map(Int.init),
                        outputs: try t.scalars(2, as: Int32.self).map(Int.init),
                        operators: operators)
    }

    /// Cross-checks indices and sizes so later code can trust the tables.
    private func validate() throws {
        for (si, g) in subgraphs.enumerated() {
            let n = g.tensors.count
            func checkTensor(_ i: Int, _ what: String, optional: Bool) throws {
                if optional && i == -1 { return }
                guard i >= 0 && i < n else { throw ModelError.badIndex(what: "subgraph \(si) \(what) tensor", index: i, count: n) }
            }
            for i in g.inputs { try checkTensor(i, "input", optional: false) }
            for i in g.outputs { try checkTensor(i, "output", optional: false) }
            for (oi, op) in g.operators.enumerated() {
                for i in op.inputs { try checkTensor(i, "operator \(oi) input", optional: true) }
                for i in op.outputs { try checkTensor(i, "operator \(oi) output", optional: false) }
            }
            for (ti, t) in g.tensors.enumerated() {
                let label = "tensor \(ti) '\(t.name)'"
                guard t.buffer < buffers.count || (t.buffer == 0 && buffers.isEmpty) else {
                    throw ModelError.badIndex(what: "\(label) buffer", index: t.buffer, count: buffers.count)
                }
                guard t.shape.count <= 8 else { throw ModelError.invalidTensor("\(label) has rank \(t.shape.count) (at most 8)") }
                var count = 1
                for d in t.shape {
                    guard d >= 0 else { throw ModelError.invalidTensor("\(label) has negative dimension \(d)") }
                    let (p, o) = count.multipliedReportingOverflow(by: d)
                    guard !o, p <= Int(Int32.max) else { throw ModelError.invalidTensor("\(label) has too many elements") }
                    count = p
                }
                if let q = t.quantization {
                    guard q.scales.allSatisfy({ $0.isFinite && $0 >= 0 }) else {
                        throw ModelError.invalidTensor("\(label) has a non-finite or negative quantization scale")
                    }
                    guard q.zeroPoints.isEmpty || q.zeroPoints.count == q.scales.count else {
                        throw ModelError.invalidTensor("\(label) has \(q.scales.count) scales but \(q.zeroPoints.count) zero points")
                    }
                    if q.scales.count > 1 {
                        guard q.quantizedDimension >= 0, q.quantizedDimension < t.shape.count,
                              t.shape[q.quantizedDimension] == q.scales.count else {
                            throw ModelError.invalidTensor("\(label) has \(q.scales.count) scales along dimension \(q.quantizedDimension) of shape \(t.shape)")
                        }
                    }
                }
                if t.buffer > 0, let r = buffers[t.buffer], let size = t.type.byteSize {
                    guard r.count == count * size else {
                        throw ModelError.invalidTensor("\(label) of shape \(t.shape) (\(t.type)) needs \(count * size) bytes but its buffer has \(r.count)")
                    }
                }
            }
        }
        for (i, s) in signatures.enumerated() {
            guard s.subgraphIndex < subgraphs.count else {
                throw ModelError.badIndex(what: "signature \(i) subgraph", index: s.subgraphIndex, count: subgraphs.count)
            }
            let n = subgraphs[s.subgraphIndex].tensors.count
            for m in s.inputs + s.outputs where m.tensor >= n {
                throw ModelError.badIndex(what: "signature '\(s.key)' tensor", index: m.tensor, count: n)
            }
        }
        for e in metadataEntries where e.buffer >= buffers.count {
            throw ModelError.badIndex(what: "metadata '\(e.name)' buffer", index: e.buffer, count: buffers.count)
        }
    }
}
