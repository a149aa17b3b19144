import XCTest
@testable import MagpieModel
import MagpieTestSupport

final class ModelWriterTests: XCTestCase {
    func testRoundTripsEveryRealModel() throws {
        let root = try TestData.require()
        let dir = root.appendingPathComponent("models")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".tflite") }.sorted()
        XCTAssertFalse(files.isEmpty)
        for file in files {
            let original = try Model(contentsOfFile: dir.appendingPathComponent(file).path)
            let bytes = ModelWriter.serialize(ModelDefinition(original))
            let copy = try Model(data: bytes)
            XCTAssertEqual(copy.subgraphs, original.subgraphs, file)
            XCTAssertEqual(copy.operatorCodes, original.operatorCodes, file)
            XCTAssertEqual(copy.metadataEntries, original.metadataEntries, file)
            XCTAssertEqual(copy.buffers.count, original.buffers.count, file)
            for i in original.buffers.indices {
                XCTAssertEqual(Array(copy.data(ofBuffer: i)), Array(original.data(ofBuffer: i)), "\(file) buffer \(i)")
                if let r = copy.buffers[i] { XCTAssertEqual(r.lowerBound % 16, 0, "\(file) buffer \(i) is not 16-byte aligned") }
            }
        }
    }

    func testWritesEveryOptionKindReadably() throws {
        var d = ModelDefinition()
        var conv = Conv2DOptions(); conv.padding = .valid; conv.strideWidth = 2; conv.strideHeight = 3
        conv.dilationWidth = 2; conv.activation = .relu6
        var ss = StridedSliceOptions(); ss.beginMask = 5; ss.shrinkAxisMask = 2; ss.offset = true
        let cases: [(BuiltinOperator, OperatorOptions)] = [
            (.conv2D, .conv2D(conv)), (.softmax, .softmax(beta: 0.5)), (.concatenation, .concatenation(axis: -1, activation: .relu)),
            (.sub, .arithmetic(activation: .reluN1To1)), (.reshape, .reshape(newShape: [1, -1])),
            (.resizeBilinear, .resize(alignCorners: false, halfPixelCenters: true)),
            (.resizeNearestNeighbor, .resize(alignCorners: true, halfPixelCenters: false)),
            (.mean, .reducer(keepDims: true)), (.squeeze, .squeeze(dims: [1, 2])), (.stridedSlice, .stridedSlice(ss)),
            (.split, .split(numSplits: 3)), (.pack, .pack(valuesCount: 2, axis: 1)), (.unpack, .unpack(num: 4, axis: 0)),
            (.gather, .gather(axis: 1, batchDims: 0)), (.cast, .cast(input: .uint8, output: .float32)),
            (.argMax, .argMax(outputType: .int32)),
        ]
        var tensors: [TensorDescription] = []
        var ops: [OperatorDescription] = []
        for (i, (builtin, options)) in cases.enumerated() {
            tensors.append(TensorDescription(name: "t\(i)", type: .float32, shape: [1]))
            ops.append(OperatorDescription(opcodeIndex: d.operatorCodeIndex(builtin), inputs: [i], outputs: [i], options: options))
        }
        d.subgraphs = [Subgraph(tensors: tensors, inputs: [0], outputs: [0], operators: ops)]
        let model = try Model(data: ModelWriter.serialize(d))
        XCTAssertEqual(model.mainSubgraph.operators.map(\.options), cases.map(\.1))
    }
}
