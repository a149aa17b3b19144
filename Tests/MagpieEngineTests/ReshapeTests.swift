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

final class InterpreterLifetimeTests: XCTestCase {
    /// TFLite keeps graph inputs intact across invocations; the arena planner must not reuse their memory.
    func testInputSurvivesInvokeAndReinvokeGivesSameOutput() throws {
        var b = OpModelBuilder()
        let x = b.input("x", .float32, [1, 8])
        let s1 = b.constant("s1", .int32, [2], bytes: Bytes.of([Int32(2), 4]))
        let s2 = b.constant("s2", .int32, [1], bytes: Bytes.of([Int32(8)]))
        let mid = b.tensor("mid", .float32, [2, 4], isOutput: false)
        let y = b.tensor("y", .float32, [8])
        b.op(.reshape, inputs: [x, s1], outputs: [mid], options: .reshape(newShape: [2, 4]))
        b.op(.reshape, inputs: [mid, s2], outputs: [y], options: .reshape(newShape: [8]))
        let interpreter = try Interpreter(model: try Model(data: b.build()))
        try interpreter.allocateTensors()
        let input = Data(Bytes.of((0..<8).map { Float($0) + 0.25 }))
        try interpreter.copy(input, toInputAt: 0)
        try interpreter.invoke()
        let first = try interpreter.output(at: 0).data
        XCTAssertEqual(try interpreter.input(at: 0).data, input)
        try interpreter.invoke()
        XCTAssertEqual(try interpreter.output(at: 0).data, first)
        XCTAssertEqual(first, input)
    }
}
