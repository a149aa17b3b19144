import XCTest
import MagpieEngine
import MagpieModel
import MagpieTestSupport

/// Replays every elementwise-group operator of the real test models (ADD, SOFTMAX, QUANTIZE, ...) as one-op models
/// with the models' own types, quantization, options and operator versions — spatial dimensions shrunk, the last
/// dimension kept — and compares Magpie with LiteRT's reference kernels on random data.
final class ElementwiseGoldenConfigTests: XCTestCase {
    static let models = [
        "mobilenet_v2_1.0_224_quant.tflite", "tf2_mobilenet_v2_1.0_224_ptq.tflite", "mobilenet_v2_1.0_224_float.tflite",
        "deeplabv3_mnv2_dm05_pascal_quant.tflite", "mobilenet_v1_0.25_128_quant.tflite",
        "mobilenet_v1_0.25_128_float.tflite", "mobilenet_quant_v1_224_head_layers.tflite",
    ]

    static let groupOperators: Set<BuiltinOperator> = [
        .add, .sub, .mul, .div, .floorDiv, .sqrt, .softmax, .logistic, .tanh, .relu, .relu6, .reluN1To1, .hardSwish,
        .quantize, .dequantize, .cast,
    ]

    /// Builds the replay model of one real model; returns it with a summary of what it holds.
    static func replay(_ model: Model, seed: UInt64) -> (ElementwiseTestModel, [String: Int]) {
        var m = ElementwiseTestModel(seed: seed)
        var counts: [String: Int] = [:]
        let graph = model.mainSubgraph
        for op in graph.operators {
            let code = model.operatorCode(of: op)
            guard groupOperators.contains(code.builtin) else { continue }
            // Only operators on activations (no constant inputs) are replayed: their shapes can be shrunk freely.
            let onActivations = op.inputs.allSatisfy { t in
                t >= 0 && (graph.tensors[t].buffer == 0 || model.data(ofBuffer: graph.tensors[t].buffer).count == 0)
            }
            guard onActivations else { continue }
            func shrink(_ shape: [Int]) -> [Int] {
                shape.enumerated().map { $0.offset == shape.count - 1 ? $0.element : min($0.element, 3) }
            }
            var inputs: [Int] = []
            for t in op.inputs {
                let desc = graph.tensors[t]
                let shape = shrink(desc.shape), n = shape.reduce(1, *)
                let data: [UInt8]
                switch desc.type {
                case .float32: data = m.floats(n, -8...8)
                case .uint8, .int8:
                    data = code.builtin == .softmax
                        ? ActivationOpsTests.logits(&m, rows: n / shape.last!, depth: shape.last!, type: desc.type)
                        : m.bytes(n)
                default: data = m.bytes(n * (desc.type.byteSize ?? 1))
                }
                inputs.append(m.input(desc.type, shape, desc.quantization, data: data))
            }
            let outputs = op.outputs.map { t -> Int in
                let desc = graph.tensors[t]
                return m.output(desc.type, shrink(desc.shape), desc.quantization,
                                label: "\(code.builtin.name) v\(code.version) '\(desc.name)'")
            }
            m.op(code.builtin, inputs, outputs, op.options, version: code.version)
            counts["\(code.builtin.name) v\(code.version) \(graph.tensors[op.inputs[0]].type)", default: 0] += 1
        }
        return (m, counts)
    }

    func testGoldenModelConfigurationsMatchLiteRT() throws {
        var replayed = 0
        for (k, name) in Self.models.enumerated() {
            let path: String
            do { path = try TestData.model(name) } catch { continue }
            let (m, counts) = Self.replay(try Model(contentsOfFile: path), seed: UInt64(100 + k))
            guard !counts.isEmpty else { continue }
            replayed += counts.values.reduce(0, +)
            try m.assertMatchesLiteRT()
        }
        if replayed == 0 { throw XCTSkip("none of the real test models is available") }
        XCTAssertGreaterThanOrEqual(replayed, 40, "expected the golden models' ADD/SOFTMAX/QUANTIZE operators")
    }

    /// The configurations the brief singles out must be present in the replays (guards against a silent skip).
    func testGoldenModelsContainTheExpectedConfigurations() throws {
        var seen = Set<String>()
        for name in Self.models {
            guard let path = try? TestData.model(name) else { continue }
            seen.formUnion(Self.replay(try Model(contentsOfFile: path), seed: 1).1.keys)
        }
        if seen.isEmpty { throw XCTSkip("none of the real test models is available") }
        for expected in ["ADD v1 uint8", "ADD v2 int8", "ADD v1 float32", "SOFTMAX v1 uint8", "SOFTMAX v2 int8",
                         "SOFTMAX v1 float32"] {
            XCTAssert(seen.contains(expected), "no \(expected) among \(seen.sorted())")
        }
        XCTAssert(seen.contains { $0.hasPrefix("QUANTIZE") && $0.hasSuffix("uint8") }, "\(seen.sorted())")
        XCTAssert(seen.contains { $0.hasPrefix("QUANTIZE") && $0.hasSuffix("int8") && !$0.hasSuffix("uint8") }, "\(seen.sorted())")
    }
}
