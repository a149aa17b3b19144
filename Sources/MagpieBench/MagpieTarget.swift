import Foundation
import MagpieEngine
import MagpieModel

/// Magpie's own engine as a benchmark target.
///
/// `prepare()` loads the model (memory-mapped), creates the interpreter, allocates tensors and fills each input once
/// with the bytes `inputs` gives. Each `runOnce()` copies those bytes into the inputs, invokes, and copies output 0
/// into a buffer reserved at prepare: the same work LiteRT's `set_tensor`/`invoke`/`get_tensor` does per frame.
public final class MagpieTarget: BenchTarget {
    /// Where the model comes from.
    public enum Source {
        case file(String)
        case bytes([UInt8])
    }

    public let source: Source
    public let options: Interpreter.Options
    /// Produces the raw bytes of every model input, in the inputs' own types, given their descriptions.
    public let inputs: ([TensorDescription]) throws -> [Data]
    public private(set) var interpreter: Interpreter?
    /// The input bytes prepared for the model (passed to peers so they run on identical inputs).
    public private(set) var preparedInputs: [Data] = []
    private var outputCopy: UnsafeMutableRawBufferPointer?

    /// - Parameters:
    ///   - source: the model file or its bytes.
    ///   - options: threads and kernels.
    ///   - inputs: makes the input bytes from the input descriptions (an image, a raw file, random values).
    public init(source: Source, options: Interpreter.Options, inputs: @escaping ([TensorDescription]) throws -> [Data]) {
        self.source = source
        self.options = options
        self.inputs = inputs
    }

    deinit { outputCopy?.deallocate() }

    public func prepare() throws {
        let model: Model
        switch source {
        case .file(let path): model = try Model(contentsOfFile: path)
        case .bytes(let bytes): model = try Model(data: bytes)
        }
        let interpreter = try Interpreter(model: model, options: options)
        try interpreter.allocateTensors()
        let infos = try (0..<interpreter.inputTensorCount).map { try interpreter.inputInfo(at: $0) }
        let data = try inputs(model.inputDescriptions)
        guard data.count == infos.count else {
            throw BenchError.target("the model has \(infos.count) inputs but \(data.count) were prepared")
        }
        for (i, (bytes, info)) in zip(data, infos).enumerated() where bytes.count != info.byteCount {
            throw BenchError.target("input \(i) ('\(info.name)') needs \(info.byteCount) bytes, \(bytes.count) were prepared")
        }
        preparedInputs = data
        let outputBytes = try interpreter.outputInfo(at: 0).byteCount
        outputCopy?.deallocate()
        outputCopy = .allocate(byteCount: max(outputBytes, 1), alignment: 64)
        self.interpreter = interpreter
    }

    public func runOnce() throws {
        guard let interpreter, let outputCopy else { throw BenchError.target("runOnce() before prepare()") }
        for i in preparedInputs.indices {
            try interpreter.withUnsafeMutableInput(at: i) { dst in
                preparedInputs[i].withUnsafeBytes { src in dst.copyMemory(from: src) }
            }
        }
        try interpreter.invoke()
        try interpreter.withUnsafeOutput(at: 0) { src in
            outputCopy.copyMemory(from: src)
        }
    }

    public func outputScores() throws -> [Float] {
        guard let interpreter else { throw BenchError.target("outputScores() before prepare()") }
        let info = try interpreter.outputInfo(at: 0)
        return try interpreter.withUnsafeOutput(at: 0) { try Dequantize.values($0, type: info.type, quantization: info.quantization) }
    }

    public func profileOnce() throws -> [OperatorSample]? {
        guard let interpreter else { throw BenchError.target("profileOnce() before prepare()") }
        // A fused pair shows as one operator "CONV_2D+DEPTHWISE_CONV_2D" and the operator that runs inside it as
        // "DEPTHWISE_CONV_2D (fused)", with its near-zero time (one row of the type table, however many pairs).
        var names = interpreter.operatorNames
        for (inner, outer) in interpreter.fusedOperators.sorted(by: { $0.key < $1.key }) {
            names[outer] += "+" + names[inner]
            names[inner] += " (fused)"
        }
        var samples: [OperatorSample] = []
        samples.reserveCapacity(names.count)
        for i in preparedInputs.indices {
            try interpreter.withUnsafeMutableInput(at: i) { dst in
                preparedInputs[i].withUnsafeBytes { src in dst.copyMemory(from: src) }
            }
        }
        try interpreter.invoke(timingOperators: { index, ns in
            samples.append(OperatorSample(index: index, type: names[index], nanoseconds: ns))
        })
        return samples
    }
}

/// Turns raw tensor bytes into real values.
public enum Dequantize {
    /// Real values of a tensor: floats as they are; integers as `(q - zeroPoint) * scale` when the tensor is
    /// quantized per tensor, else as plain numbers.
    /// - Throws: `BenchError.invalidArgument` for types without a numeric meaning (string, resource...).
    public static func values(_ bytes: UnsafeRawBufferPointer, type: TensorType,
                              quantization: QuantizationParameters?) throws -> [Float] {
        let scale = quantization.map { $0.scales.count == 1 ? $0.scale : 1 } ?? 1
        let zero = Float(quantization.map { $0.zeroPoints.count == 1 ? $0.zeroPoint : 0 } ?? 0)
        func convert<T: BinaryInteger>(_: T.Type) -> [Float] {
            let n = bytes.count / MemoryLayout<T>.size
            return (0..<n).map { i in
                (Float(bytes.loadUnaligned(fromByteOffset: i * MemoryLayout<T>.size, as: T.self)) - zero) * scale
            }
        }
        switch type {
        case .float32:
            let n = bytes.count / 4
            return (0..<n).map { bytes.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self) }
        case .uint8: return convert(UInt8.self)
        case .int8: return convert(Int8.self)
        case .int16: return convert(Int16.self)
        case .int32: return convert(Int32.self)
        case .int64: return convert(Int64.self)
        case .uint16: return convert(UInt16.self)
        case .uint32: return convert(UInt32.self)
        case .bool: return convert(UInt8.self)
        default:
            throw BenchError.invalidArgument("output type \(type) has no numeric values to compare")
        }
    }
}

/// Deterministic pseudo-random input bytes (SplitMix64): floats uniform in [-1, 1], integers uniform over all bytes.
public struct RandomInput {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Bytes for one tensor.
    public mutating func bytes(for info: TensorDescription) -> Data {
        var data = Data(count: info.byteCount)
        data.withUnsafeMutableBytes { raw in
            if info.type == .float32 {
                let f = raw.bindMemory(to: Float.self)
                for i in f.indices { f[i] = Float(next() >> 40) / Float(1 << 24) * 2 - 1 }
            } else if info.type == .bool {
                for i in raw.indices { raw[i] = UInt8(next() & 1) }
            } else {
                for i in raw.indices { raw[i] = UInt8(truncatingIfNeeded: next()) }
            }
        }
        return data
    }

    /// An input provider for `MagpieTarget` that fills every input from one seed.
    public static func provider(seed: UInt64) -> ([TensorDescription]) throws -> [Data] {
        { infos in
            var generator = RandomInput(seed: seed)
            return infos.map { generator.bytes(for: $0) }
        }
    }
}

extension Model {
    /// The main subgraph's inputs, in order.
    public var inputDescriptions: [TensorDescription] { mainSubgraph.inputs.map { mainSubgraph.tensors[$0] } }
    /// The main subgraph's outputs, in order.
    public var outputDescriptions: [TensorDescription] { mainSubgraph.outputs.map { mainSubgraph.tensors[$0] } }
}

extension TensorDescription {
    /// Bytes of the tensor's data (0 for types without a fixed element size).
    public var byteCount: Int { elementCount * (type.byteSize ?? 0) }
    /// `uint8[1, 224, 224, 3]`.
    public var summary: String { "\(type)[\(shape.map(String.init).joined(separator: ", "))]" }
}
