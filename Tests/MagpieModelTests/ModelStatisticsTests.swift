import XCTest
import MagpieModel
import MagpieTestSupport

final class ModelStatisticsTests: XCTestCase {
    /// A hand-made graph: CONV_2D 3×3 (8→16) on 10×10 → 10×10, DEPTHWISE 3×3 stride 2 → 5×5,
    /// FULLY_CONNECTED 400 → 7, ADD and RESHAPE (0 MACs).
    func testCountsByHand() throws {
        var b = OpModelBuilder()
        let x = b.input("x", .float32, [1, 10, 10, 8])
        let w1 = b.constant("w1", .float32, [16, 3, 3, 8], bytes: [UInt8](repeating: 0, count: 16 * 9 * 8 * 4))
        let b1 = b.constant("b1", .float32, [16], bytes: [UInt8](repeating: 0, count: 64))
        let y1 = b.tensor("y1", .float32, [1, 10, 10, 16], isOutput: false)
        b.op(.conv2D, inputs: [x, w1, b1], outputs: [y1], options: .conv2D(Conv2DOptions()))
        let w2 = b.constant("w2", .float32, [1, 3, 3, 16], bytes: [UInt8](repeating: 0, count: 9 * 16 * 4))
        let y2 = b.tensor("y2", .float32, [1, 5, 5, 16], isOutput: false)
        var dw = DepthwiseConv2DOptions(); dw.strideWidth = 2; dw.strideHeight = 2
        b.op(.depthwiseConv2D, inputs: [y1, w2, -1], outputs: [y2], options: .depthwiseConv2D(dw))
        let shape = b.constant("shape", .int32, [2], bytes: Bytes.of([Int32(1), 400]))
        let y3 = b.tensor("y3", .float32, [1, 400], isOutput: false)
        b.op(.reshape, inputs: [y2, shape], outputs: [y3])
        let w3 = b.constant("w3", .float32, [7, 400], bytes: [UInt8](repeating: 0, count: 7 * 400 * 4))
        let b3 = b.constant("b3", .float32, [7], bytes: [UInt8](repeating: 0, count: 28))
        let y4 = b.tensor("y4", .float32, [1, 7], isOutput: false)
        b.op(.fullyConnected, inputs: [y3, w3, b3], outputs: [y4], options: .fullyConnected(FullyConnectedOptions()))
        let y5 = b.tensor("y5", .float32, [1, 7])
        b.op(.add, inputs: [y4, y4], outputs: [y5], options: .arithmetic(activation: .none))
        let bytes = b.build()
        let stats = ModelStatistics(model: try Model(data: bytes))
        XCTAssertEqual(stats.operatorMultiplyAccumulates, [1600 * 72, 400 * 9, 0, 7 * 400, 0])
        XCTAssertEqual(stats.multiplyAccumulateCount, 1600 * 72 + 400 * 9 + 7 * 400)
        XCTAssertEqual(stats.parameterCount, 16 * 72 + 16 + 9 * 16 + 7 * 400 + 7)
        XCTAssertEqual(stats.parameterByteCount, stats.parameterCount * 4)
        XCTAssertEqual(stats.constantElementCount, stats.parameterCount + 2)
        XCTAssertEqual(stats.operatorHistogram, ["CONV_2D": 1, "DEPTHWISE_CONV_2D": 1, "RESHAPE": 1, "FULLY_CONNECTED": 1, "ADD": 1])
        XCTAssertEqual(stats.operatorCount, 5)
        var definition = ModelDefinition(try Model(data: bytes))
        definition.description = "copy"
        XCTAssertEqual(ModelStatistics(definition: definition), stats)
    }

    /// A weight tensor shared by two operators is one set of parameters.
    func testSharedWeightsCountOnce() throws {
        var b = OpModelBuilder()
        let x = b.input("x", .float32, [1, 4])
        let w = b.constant("w", .float32, [4, 4], bytes: [UInt8](repeating: 0, count: 64))
        let y = b.tensor("y", .float32, [1, 4], isOutput: false)
        b.op(.fullyConnected, inputs: [x, w, -1], outputs: [y], options: .fullyConnected(FullyConnectedOptions()))
        let z = b.tensor("z", .float32, [1, 4])
        b.op(.fullyConnected, inputs: [y, w, -1], outputs: [z], options: .fullyConnected(FullyConnectedOptions()))
        let stats = ModelStatistics(model: try Model(data: b.build()))
        XCTAssertEqual(stats.parameterCount, 16)
        XCTAssertEqual(stats.multiplyAccumulateCount, 32)
    }

    /// The published figures of the real models (skipped without the shared test data).
    func testRealModels() throws {
        let expected: [(String, parameters: Int, macs: Int)] = [
            ("mobilenet_v2_1.0_224_quant.tflite", 3_489_097, 300_775_552),
            ("mobilenet_v2_1.0_224_float.tflite", 3_489_097, 300_775_552),
            ("tf2_mobilenet_v2_1.0_224_ptq.tflite", 3_489_097, 300_775_552),
            ("mobilenet_v1_0.25_128_quant.tflite", 467_593, 13_570_304),
        ]
        for (name, parameters, macs) in expected {
            let stats = ModelStatistics(model: try Model(contentsOfFile: try TestData.model(name)))
            XCTAssertEqual(stats.parameterCount, parameters, name)
            XCTAssertEqual(stats.multiplyAccumulateCount, macs, name)
        }
    }
}
