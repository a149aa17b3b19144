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

final class ModelLayoutTests: XCTestCase {
    private func smallDefinition() -> ModelDefinition {
        var d = ModelDefinition(description: "layout test")
        let weights = d.addBuffer((0..<40).map { UInt8($0) })
        let shape = d.addBuffer([2, 0, 0, 0, 5, 0, 0, 0])
        let code = d.operatorCodeIndex(.reshape)
        d.subgraphs = [Subgraph(name: "main", tensors: [
            TensorDescription(name: "w", type: .float32, shape: [10], buffer: weights),
            TensorDescription(name: "shape", type: .int32, shape: [2], buffer: shape),
            TensorDescription(name: "y", type: .float32, shape: [2, 5]),
        ], inputs: [], outputs: [2], operators: [
            OperatorDescription(opcodeIndex: code, inputs: [0, 1], outputs: [2], options: .reshape(newShape: [2, 5])),
        ])]
        d.signatures = [SignatureDef(key: "serving_default", subgraphIndex: 0, inputs: [], outputs: [("y", 2)])]
        return d
    }

    func testBuffersStoredOutsideTheFlatbufferAreReadByOffsetAndSize() throws {
        var d = smallDefinition()
        d.buffersOutsideFlatbuffer = true
        let bytes = ModelWriter.serialize(d)
        let model = try Model(data: bytes)
        let range = try XCTUnwrap(model.buffers[1])
        XCTAssertEqual(range.lowerBound % 16, 0)
        XCTAssertEqual(Array(model.data(ofBuffer: 1)), (0..<40).map { UInt8($0) })
        XCTAssertEqual(Array(model.data(ofBuffer: 2)), [2, 0, 0, 0, 5, 0, 0, 0])
        // The data really is after the flatbuffer: the inline layout of the same model is smaller than the offset
        // of the last buffer's end.
        let inline = ModelWriter.serialize(smallDefinition())
        XCTAssertEqual(try Model(data: inline).mainSubgraph, model.mainSubgraph)
        XCTAssertEqual(bytes.count, try XCTUnwrap(model.buffers[2]).upperBound)
    }

    func testExternalBufferPastTheEndOfFileIsRefused() throws {
        var d = smallDefinition()
        d.buffersOutsideFlatbuffer = true
        let bytes = ModelWriter.serialize(d)
        XCTAssertThrowsError(try Model(data: bytes.dropLast(4))) { error in
            guard case ModelError.truncated(let message)? = error as? ModelError else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("buffer"), message)
        }
    }

    func testSignatureDefsRoundTrip() throws {
        let model = try Model(data: ModelWriter.serialize(smallDefinition()))
        XCTAssertEqual(model.signatures.count, 1)
        XCTAssertEqual(model.signatures[0].key, "serving_default")
        XCTAssertEqual(model.signatures[0].outputs.map(\.name), ["y"])
        XCTAssertEqual(model.signatures[0].outputs.map(\.tensor), [2])
    }

    func testSignatureNamingAMissingTensorIsRefused() throws {
        var d = smallDefinition()
        d.signatures[0].outputs = [("y", 7)]
        XCTAssertThrowsError(try Model(data: ModelWriter.serialize(d))) { error in
            guard case ModelError.badIndex? = error as? ModelError else { return XCTFail("\(error)") }
        }
    }

    func testDeprecatedBuiltinCodeIsHonoured() throws {
        // Old converters wrote only deprecated_builtin_code (int8); the schema says the code is the larger of the two.
        func model(deprecated: Int8?, builtin: Int32?) throws -> Model {
            var b = FlatBufferBuilder()
            b.startTable()
            if let deprecated { b.addAlways(0, deprecated) }
            if let builtin { b.addAlways(3, builtin) }
            let code = b.endTable()
            let codes = b.createVector(ofOffsets: [code])
            let empty = b.createVector([Int32]())
            let noTables = b.createVector(ofOffsets: [])
            b.startTable()
            b.add(0, noTables)
            b.add(1, empty)
            b.add(2, empty)
            b.add(3, noTables)
            let subgraph = b.endTable()
            let subgraphs = b.createVector(ofOffsets: [subgraph])
            b.startTable()
            let sentinel = b.endTable()
            let buffers = b.createVector(ofOffsets: [sentinel])
            b.startTable()
            b.addAlways(0, UInt32(3))
            b.add(1, codes)
            b.add(2, subgraphs)
            b.add(4, buffers)
            let root = b.endTable()
            return try Model(data: b.finish(root: root, fileIdentifier: "TFL3"))
        }
        XCTAssertEqual(try model(deprecated: 22, builtin: nil).operatorCodes[0].builtin, .reshape)
        XCTAssertEqual(try model(deprecated: 127, builtin: 150).operatorCodes[0].builtin.rawValue, 150)
        XCTAssertEqual(try model(deprecated: nil, builtin: 22).operatorCodes[0].builtin, .reshape)
    }
}
