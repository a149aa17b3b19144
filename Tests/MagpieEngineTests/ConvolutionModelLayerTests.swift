import XCTest
import MagpieEngine
import MagpieModel
import MagpieTestSupport

/// Layers of the golden models (their real weights, biases, quantization and options) run alone on random inputs,
/// in Magpie and in LiteRT's reference kernels.
final class ConvolutionModelLayerTests: XCTestCase {
    /// Adds operator `index` of `model` to `m`: constants copied, the input replaced by a random one of at most
    /// `maxSpatial` × `maxSpatial` pixels (pooling and MEAN keep their input, whose window depends on it).
    private func addLayer(_ model: Model, _ index: Int, maxSpatial: Int, to m: inout DifferentialModel) throws -> String {
        let g = model.mainSubgraph
        let op = g.operators[index]
        let code = model.operatorCode(of: op)
        let source = g.tensors[op.inputs[0]]
        var shape = source.shape
        if shape.count == 4 && code.builtin != .averagePool2D && code.builtin != .mean {
            shape[1] = min(shape[1], maxSpatial)
            shape[2] = min(shape[2], maxSpatial)
        }
        let label = "op \(index) \(code.builtin.name) v\(code.version) \(source.type) \(shape)"
        var inputs = [m.input("\(label).x", source.type, shape, source.quantization)]
        for t in op.inputs.dropFirst() {
            guard t >= 0 else { inputs.append(-1); continue }
            let tensor = g.tensors[t]
            let data = model.data(ofBuffer: tensor.buffer)
            try XCTSkipIf(data.isEmpty, "\(label): input \(t) is not a constant")
            inputs.append(m.builder.constant("\(label).\(t)", tensor.type, tensor.shape, bytes: Array(data),
                                             quantization: tensor.quantization))
        }
        let out = g.tensors[op.outputs[0]]
        let y = m.output(label, out.type, out.shape, out.quantization)
        m.builder.op(code.builtin, inputs: inputs, outputs: [y], options: op.options, version: code.version)
        return label
    }

    /// The first CONV_2D, the first stride-1 and stride-2 DEPTHWISE_CONV_2D, the 1×1 convolution to 1280 channels,
    /// the pooling (AVERAGE_POOL_2D or MEAN) and the logits convolution.
    private func interestingLayers(_ model: Model) -> [Int] {
        let ops = model.mainSubgraph.operators
        func first(_ builtin: BuiltinOperator, where predicate: (OperatorDescription) -> Bool = { _ in true }) -> Int? {
            ops.indices.first { model.operatorCode(of: ops[$0]).builtin == builtin && predicate(ops[$0]) }
        }
        func depthwiseStride(_ s: Int) -> (OperatorDescription) -> Bool {
            { if case let .depthwiseConv2D(o) = $0.options { return o.strideHeight == s } else { return false } }
        }
        let convs = ops.indices.filter { model.operatorCode(of: ops[$0]).builtin == .conv2D }
        return [first(.conv2D), first(.depthwiseConv2D, where: depthwiseStride(1)), first(.depthwiseConv2D, where: depthwiseStride(2)),
                convs.dropLast().last, first(.averagePool2D), first(.mean), convs.last].compactMap { $0 }
    }

    private func checkLayers(of name: String, seed: UInt64) throws {
        let model = try Model(contentsOfFile: try TestData.model(name))
        var m = DifferentialModel(seed: seed)
        let layers = interestingLayers(model)
        XCTAssertEqual(layers.count, 6, "\(name): expected six layers of interest, found \(layers)")
        for index in layers { _ = try addLayer(model, index, maxSpatial: 11, to: &m) }
        try m.assertMatchesLiteRT()
    }

    func testUInt8MobileNetLayersMatchLiteRT() throws {
        try checkLayers(of: "mobilenet_v2_1.0_224_quant.tflite", seed: 41)
    }

    func testInt8PerChannelMobileNetLayersMatchLiteRT() throws {
        try checkLayers(of: "tf2_mobilenet_v2_1.0_224_ptq.tflite", seed: 42)
    }

    func testFloatMobileNetLayersMatchLiteRT() throws {
        try checkLayers(of: "mobilenet_v2_1.0_224_float.tflite", seed: 43)
    }

    /// Every CONV_2D and DEPTHWISE_CONV_2D of the quantized models (each with its own multipliers, zero points and
    /// activation ranges) on 4×4 random inputs (smaller inputs keep their size).
    private func checkAllConvolutions(of name: String, seed: UInt64) throws {
        let model = try Model(contentsOfFile: try TestData.model(name))
        var m = DifferentialModel(seed: seed)
        let ops = model.mainSubgraph.operators
        let layers = ops.indices.filter { [.conv2D, .depthwiseConv2D].contains(model.operatorCode(of: ops[$0]).builtin) }
        XCTAssertEqual(layers.count, 53)
        for index in layers { _ = try addLayer(model, index, maxSpatial: 4, to: &m) }
        try m.assertMatchesLiteRT()
    }

    func testAllUInt8MobileNetConvolutionsMatchLiteRT() throws {
        try checkAllConvolutions(of: "mobilenet_v2_1.0_224_quant.tflite", seed: 46)
    }

    func testAllInt8MobileNetConvolutionsMatchLiteRT() throws {
        try checkAllConvolutions(of: "tf2_mobilenet_v2_1.0_224_ptq.tflite", seed: 47)
    }

    /// The golden int8 model's MEAN as Magpie reads it: axes [1, 2] of [1, 7, 7, 1280], input (0.02353, -128),
    /// output (0.01908, -128), and the output shape Magpie gives it.
    func testGoldenMeanConfiguration() throws {
        let model = try Model(contentsOfFile: try TestData.model("tf2_mobilenet_v2_1.0_224_ptq.tflite"))
        let g = model.mainSubgraph
        guard let index = g.operators.indices.first(where: { model.operatorCode(of: g.operators[$0]).builtin == .mean }) else {
            return XCTFail("no MEAN in the model")
        }
        let op = g.operators[index]
        let input = g.tensors[op.inputs[0]], output = g.tensors[op.outputs[0]]
        XCTAssertEqual(input.shape, [1, 7, 7, 1280])
        XCTAssertEqual(input.type, .int8)
        XCTAssertEqual(Array(model.data(ofBuffer: g.tensors[op.inputs[1]].buffer)), Bytes.of([Int32(1), 2]))
        XCTAssertEqual(input.quantization?.zeroPoint, -128)
        XCTAssertEqual(output.quantization?.zeroPoint, -128)
        XCTAssertNotEqual(input.quantization?.scale, output.quantization?.scale)
        guard case let .reducer(keepDims) = op.options else { return XCTFail("MEAN options \(op.options)") }
        var m = DifferentialModel(seed: 45)
        _ = try addLayer(model, index, maxSpatial: 7, to: &m)
        let interpreter = try Interpreter(model: try Model(data: m.builder.build()), options: .init(kernels: .reference))
        try interpreter.allocateTensors()
        XCTAssertEqual(try interpreter.outputInfo(at: 0).shape, keepDims ? [1, 1, 1, 1280] : [1, 1280])
    }
}
