import XCTest
@testable import MagpieModel
import MagpieTestSupport

final class ModelReaderTests: XCTestCase {
    func testReadsMobileNetV2Quant() throws {
        let model = try Model(contentsOfFile: try TestData.model("mobilenet_v2_1.0_224_quant.tflite"))
        XCTAssertEqual(model.version, 3)
        let g = model.mainSubgraph
        XCTAssertEqual(g.inputs.count, 1)
        let input = g.tensors[g.inputs[0]]
        XCTAssertEqual(input.shape, [1, 224, 224, 3])
        XCTAssertEqual(input.type, .uint8)
        XCTAssertEqual(input.quantization?.zeroPoint, 128)
        XCTAssertEqual(g.operators.count, 66)  // 36 conv, 17 depthwise, 10 add, pool, reshape, softmax
        XCTAssertEqual(Set(model.operatorCodes.map(\.builtin.name)),
                       ["CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "AVERAGE_POOL_2D", "RESHAPE", "SOFTMAX"])
    }

    func testRejectsEmptyAndGarbage() {
        XCTAssertThrowsError(try Model(data: [UInt8]())) { XCTAssertTrue($0 is ModelError) }
        XCTAssertThrowsError(try Model(data: [UInt8](repeating: 0xFF, count: 64))) { XCTAssertTrue($0 is ModelError) }
    }
}
