import Foundation
import MagpieEngine
import MagpieModel

/// Builds small .tflite models (usually one operator) for operator tests, runs them in Magpie and, where LiteRT is
/// installed, in LiteRT's reference kernels for a differential check.
public struct OpModelBuilder {
    public var definition = ModelDefinition()
    public private(set) var tensors: [TensorDescription] = []
    public private(set) var inputs: [Int] = []
    public private(set) var outputs: [Int] = []
    public private(set) var operators: [OperatorDescription] = []

    public init() {}

    /// Adds a graph input tensor and returns its index.
    @discardableResult
    public mutating func input(_ name: String, _ type: TensorType, _ shape: [Int],
                               quantization: QuantizationParameters? = nil) -> Int {
        tensors.append(TensorDescription(name: name, type: type, shape: shape, quantization: quantization))
        inputs.append(tensors.count - 1)
        return tensors.count - 1
    }

    /// Adds a constant tensor holding `bytes` and returns its index.
    @discardableResult
    public mutating func constant(_ name: String, _ type: TensorType, _ shape: [Int], bytes: [UInt8],
                                  quantization: QuantizationParameters? = nil) -> Int {
        let buffer = definition.addBuffer(bytes)
        tensors.append(TensorDescription(name: name, type: type, shape: shape, buffer: buffer, quantization: quantization))
        return tensors.count - 1
    }

    /// Adds an intermediate or output tensor; `isOutput` makes it a graph output.
    @discardableResult
    public mutating func tensor(_ name: String, _ type: TensorType, _ shape: [Int],
                                quantization: QuantizationParameters? = nil, isOutput: Bool = true) -> Int {
        tensors.append(TensorDescription(name: name, type: type, shape: shape, quantization: quantization))
        if isOutput { outputs.append(tensors.count - 1) }
        return tensors.count - 1
    }

    /// Adds an operator.
    public mutating func op(_ builtin: BuiltinOperator, inputs: [Int], outputs: [Int], options: OperatorOptions = .none,
                            version: Int = 1) {
        let code = definition.operatorCodeIndex(builtin, version: version)
        operators.append(OperatorDescription(opcodeIndex: code, inputs: inputs, outputs: outputs, options: options))
    }

    /// The .tflite bytes.
    public func build() -> [UInt8] {
        var d = definition
        d.subgraphs = [Subgraph(name: "main", tensors: tensors, inputs: inputs, outputs: outputs, operators: operators)]
        return ModelWriter.serialize(d)
    }

    /// Builds the model and runs it in Magpie with the given kernels; returns each output's bytes.
    public func run(_ inputData: [[UInt8]], kernels: KernelSet = .reference, threads: Int = 1,
                    fusesOperators: Bool = true, requantization: Requantization? = nil) throws -> [[UInt8]] {
        let interpreter = try Interpreter(model: try Model(data: build()),
                                          options: .init(threadCount: threads, kernels: kernels,
                                                         fusesOperators: fusesOperators,
                                                         requantization: requantization))
        try interpreter.allocateTensors()
        for (i, data) in inputData.enumerated() { try interpreter.copy(Data(data), toInputAt: i) }
        try interpreter.invoke()
        return try (0..<interpreter.outputTensorCount).map { Array(try interpreter.output(at: $0).data) }
    }
}

/// LiteRT's reference kernels through `scripts/litert_reference.py`, when Python and ai-edge-litert are installed.
public enum LiteRTReference {
    /// Why LiteRT cannot be used here, or nil when it can. Tests skip with this message.
    public static let unavailableReason: String? = {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", "import ai_edge_litert.interpreter, numpy"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { return "python3 not found; the LiteRT differential check needs python3 with ai-edge-litert" }
        p.waitUntilExit()
        return p.terminationStatus == 0 ? nil : "ai-edge-litert is not installed (pip install ai-edge-litert numpy); LiteRT differential check skipped"
    }()

    public enum Outcome: Equatable {
        case outputs([[UInt8]])
        /// LiteRT refused the model; its message.
        case refused(String)
    }

    /// Runs `model` in LiteRT's reference kernels.
    public static func run(model: [UInt8], inputs: [[UInt8]], outputCount: Int, resolver: String = "ref") throws -> Outcome {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("magpie-litert-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let modelURL = dir.appendingPathComponent("model.tflite")
        try Data(model).write(to: modelURL)
        var inputPaths: [String] = []
        for (i, data) in inputs.enumerated() {
            let url = dir.appendingPathComponent("in\(i).bin")
            try Data(data).write(to: url)
            inputPaths.append(url.path)
        }
        let outputPaths = (0..<outputCount).map { dir.appendingPathComponent("out\($0).bin").path }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", TestData.packageRoot.appendingPathComponent("scripts/litert_reference.py").path,
                       modelURL.path, "--resolver", resolver, "--inputs"] + inputPaths + ["--outputs"] + outputPaths
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        switch p.terminationStatus {
        case 0: return .outputs(try outputPaths.map { Array(try Data(contentsOf: URL(fileURLWithPath: $0))) })
        case 3: return .refused(message.trimmingCharacters(in: .whitespacesAndNewlines))
        default: throw NSError(domain: "LiteRTReference", code: Int(p.terminationStatus),
                               userInfo: [NSLocalizedDescriptionKey: message])
        }
    }
}

/// Per-tensor quantization parameters (`scale`, `zeroPoint`), for building test models.
public func quant(_ scale: Float, _ zeroPoint: Int) -> QuantizationParameters {
    QuantizationParameters(scales: [scale], zeroPoints: [Int64(zeroPoint)])
}

/// Little-endian bytes of numeric arrays, and back.
public enum Bytes {
    public static func of<T: FixedWidthInteger>(_ values: [T]) -> [UInt8] {
        values.flatMap { v in withUnsafeBytes(of: v.littleEndian) { Array($0) } }
    }
    public static func of(_ values: [Float]) -> [UInt8] { of(values.map(\.bitPattern)) }
    public static func array<T: FixedWidthInteger>(_ bytes: [UInt8], as _: T.Type) -> [T] {
        let n = bytes.count / MemoryLayout<T>.size
        return bytes.withUnsafeBytes { raw in (0..<n).map { T(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * MemoryLayout<T>.size, as: T.self)) } }
    }
    public static func floats(_ bytes: [UInt8]) -> [Float] { array(bytes, as: UInt32.self).map(Float.init(bitPattern:)) }
    /// The values of an integer tensor named by its NumPy dtype ("int8", "uint8", "int32", "int64"), as Int;
    /// nil for another dtype.
    public static func integers(_ bytes: [UInt8], dtype: String) -> [Int]? {
        switch dtype {
        case "int8": return bytes.map { Int(Int8(bitPattern: $0)) }
        case "uint8": return bytes.map { Int($0) }
        case "int32": return array(bytes, as: Int32.self).map { Int($0) }
        case "int64": return array(bytes, as: Int64.self).map { Int($0) }
        default: return nil
        }
    }
}

/// A small deterministic generator for test data (SplitMix64), so failures reproduce.
public struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A float model shaped like one of MobileNetV2's blocks, for the fusion tests: a 1×1 convolution ("pre"), the
/// expansion (1×1 by default, `cin` → `expanded`), the 3×3 depthwise convolution that reads it (operator 2, which the
/// optimized kernels fuse into operator 1) and a projection to 8 channels, the one graph output (two when the
/// expanded tensor is an output too).
public struct ExpansionBlock: CustomStringConvertible {
    public var n: Int, h: Int, w: Int, cin: Int, expanded: Int, stride: Int
    public var activation: FusedActivation
    public var expandedIsOutput: Bool
    /// The expansion's filter size and stride (SAME padding): 1 and 1 for a pointwise expansion; 3 and 2 for a
    /// block like MobileNetV2's first layer and the depthwise layer after it.
    public var filter: Int, expansionStride: Int
    /// The projection's output channels.
    public var projected: Int
    /// When above 0, every `deadEvery`-th depthwise channel gets a bias of -100, so its ReLU6 output is all zeros
    /// (as MobileNetV2's projections see: zeros along whole channels).
    public var deadEvery: Int
    /// Whether an ADD of the block's input ("pre") and the projection follows (MobileNetV2's residual blocks; needs
    /// a pointwise expansion, stride 1 and `projected == cin`; no activation, as there): operator 4, the graph
    /// output.
    public var residual: Bool

    public init(n: Int, h: Int, w: Int, cin: Int, expanded: Int, stride: Int, activation: FusedActivation,
                expandedIsOutput: Bool = false, filter: Int = 1, expansionStride: Int = 1, projected: Int = 8,
                deadEvery: Int = 0, residual: Bool = false) {
        precondition(!residual || (filter == 1 && expansionStride == 1 && stride == 1 && projected == cin))
        self.n = n; self.h = h; self.w = w; self.cin = cin; self.expanded = expanded; self.stride = stride
        self.activation = activation; self.expandedIsOutput = expandedIsOutput
        self.filter = filter; self.expansionStride = expansionStride
        self.projected = projected; self.deadEvery = deadEvery; self.residual = residual
    }

    public var description: String {
        "\(n)x\(h)x\(w)x\(cin) -> \(filter)x\(filter)/\(expansionStride) \(expanded) -> 3x3/\(stride) \(activation)"
            + " -> \(projected)" + (deadEvery > 0 ? " (every \(deadEvery)th channel dead)" : "")
            + (expandedIsOutput ? " (expanded is an output)" : "") + (residual ? " + ADD" : "")
    }

    /// The .tflite bytes and an input, from `seed`.
    public func build(seed: UInt64) -> (model: [UInt8], input: [UInt8]) {
        var rng = SeededGenerator(seed: seed)
        func random(_ count: Int) -> [Float] { (0..<count).map { _ in Float.random(in: -1...1, using: &rng) } }
        var b = OpModelBuilder()
        func convolution(_ x: Int, _ cin: Int, _ cout: Int, _ name: String, _ act: FusedActivation, filter: Int = 1,
                         stride: Int = 1, shape: [Int], isOutput: Bool) -> Int {
            let w = b.constant("\(name).w", .float32, [cout, filter, filter, cin],
                               bytes: Bytes.of(random(cout * filter * filter * cin)))
            let bias = b.constant("\(name).b", .float32, [cout], bytes: Bytes.of(random(cout)))
            let y = b.tensor(name, .float32, shape + [cout], isOutput: isOutput)
            var o = Conv2DOptions()
            o.activation = act; o.padding = .same; o.strideHeight = stride; o.strideWidth = stride
            b.op(.conv2D, inputs: [x, w, bias], outputs: [y], options: .conv2D(o), version: 2)
            return y
        }
        // SAME padding: ceil(size / stride).
        let eh = (h + expansionStride - 1) / expansionStride, ew = (w + expansionStride - 1) / expansionStride
        let x = b.input("x", .float32, [n, h, w, cin])
        let pre = convolution(x, cin, cin, "pre", .none, shape: [n, h, w], isOutput: false)
        let e = convolution(pre, cin, expanded, "expanded", activation, filter: filter, stride: expansionStride,
                            shape: [n, eh, ew], isOutput: expandedIsOutput)
        let dw = b.constant("dw.w", .float32, [1, 3, 3, expanded], bytes: Bytes.of(random(9 * expanded)))
        var dwBiasValues = random(expanded)
        if deadEvery > 0 { for c in Swift.stride(from: 0, to: expanded, by: deadEvery) { dwBiasValues[c] = -100 } }
        let dwBias = b.constant("dw.b", .float32, [expanded], bytes: Bytes.of(dwBiasValues))
        let oh = (eh + stride - 1) / stride, ow = (ew + stride - 1) / stride
        let d = b.tensor("dw", .float32, [n, oh, ow, expanded], isOutput: false)
        var o = DepthwiseConv2DOptions()
        o.padding = .same; o.strideHeight = stride; o.strideWidth = stride; o.activation = .relu6
        o.depthMultiplier = 1
        b.op(.depthwiseConv2D, inputs: [e, dw, dwBias], outputs: [d], options: .depthwiseConv2D(o), version: 2)
        let y = convolution(d, expanded, projected, "project", .none, shape: [n, oh, ow], isOutput: !residual)
        if residual {
            let sum = b.tensor("sum", .float32, [n, oh, ow, projected], isOutput: true)
            b.op(.add, inputs: [y, pre], outputs: [sum], options: .arithmetic(activation: .none))
        }
        return (b.build(), Bytes.of(random(n * h * w * cin)))
    }
}
