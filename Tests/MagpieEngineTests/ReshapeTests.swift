import XCTest
import MagpieEngine
import MagpieModel
import MagpieTestSupport

final class ReshapeTests: XCTestCase {
    func testReshapeWithInferredDimensionMatchesLiteRT() throws {
        var b = OpModelBuilder()
        let x = b.input("x", .float32, [2, 3, 4])
        let shape = b.constant("shape", .int32, [2], bytes: Bytes.of([Int32(4), -1]))
        let y = b.tensor("y", .float32, [4, 6])
        b.op(.reshape, inputs: [x, shape], outputs: [y], options: .reshape(newShape: [4, -1]))
        let input = Bytes.of((0..<24).map { Float($0) * 0.5 })
        let out = try b.run([input])
        XCTAssertEqual(out, [input])
        if let reason = LiteRTReference.unavailableReason { throw XCTSkip(reason) }
        XCTAssertEqual(try LiteRTReference.run(model: b.build(), inputs: [input], outputCount: 1), .outputs(out))
    }

    func testReshapeToWrongSizeIsRefused() throws {
        var b = OpModelBuilder()
        let x = b.input("x", .uint8, [2, 3])
        let y = b.tensor("y", .uint8, [4])
        b.op(.reshape, inputs: [x], outputs: [y], options: .reshape(newShape: [4]))
        let interpreter = try Interpreter(model: try Model(data: b.build()))
        XCTAssertThrowsError(try interpreter.allocateTensors()) { error in
            guard case EngineError.invalidOperator(0, "RESHAPE", _) = error else { return XCTFail("\(error)") }
        }
    }
}
