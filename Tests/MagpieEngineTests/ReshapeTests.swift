import Foundation
import Synchronization
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

final class InterpreterAPITests: XCTestCase {
    /// A float CONV_2D + RELU model at any spatial size (weights fixed).
    private func convModel(height: Int, width: Int) -> OpModelBuilder {
        var b = OpModelBuilder()
        let x = b.input("x", .float32, [1, height, width, 3])
        let w = b.constant("w", .float32, [4, 3, 3, 3], bytes: Bytes.of((0..<108).map { Float(($0 * 37) % 11) / 10 - 0.5 }))
        let bias = b.constant("b", .float32, [4], bytes: Bytes.of([Float(0.1), -0.2, 0.3, 0]))
        let y = b.tensor("y", .float32, [1, height, width, 4])
        var o = Conv2DOptions()
        o.strideWidth = 1; o.strideHeight = 1; o.padding = .same; o.activation = .relu
        b.op(.conv2D, inputs: [x, w, bias], outputs: [y], options: .conv2D(o))
        return b
    }

    func testResizeInputReplansAndMatchesAModelBuiltAtThatSize() throws {
        let interpreter = try Interpreter(model: try Model(data: convModel(height: 8, width: 8).build()),
                                          options: .init(threadCount: 1, kernels: .reference))
        try interpreter.resizeInput(at: 0, to: [1, 5, 7, 3])
        try interpreter.allocateTensors()
        XCTAssertEqual(try interpreter.outputInfo(at: 0).shape, [1, 5, 7, 4])
        var rng = SeededGenerator(seed: 9)
        let input = Bytes.of((0..<(5 * 7 * 3)).map { _ in Float.random(in: -1...1, using: &rng) })
        try interpreter.copy(Data(input), toInputAt: 0)
        try interpreter.invoke()
        let direct = try convModel(height: 5, width: 7).run([input])
        XCTAssertEqual(Array(try interpreter.output(at: 0).data), direct[0])
    }

    func testAPIMisuseGivesTypedErrors() throws {
        let interpreter = try Interpreter(model: try Model(data: convModel(height: 4, width: 4).build()))
        XCTAssertThrowsError(try interpreter.invoke()) { XCTAssertEqual($0 as? EngineError, .tensorsNotAllocated) }
        XCTAssertThrowsError(try interpreter.input(at: 3)) { XCTAssertEqual($0 as? EngineError, .invalidTensorIndex(3, count: 1)) }
        XCTAssertThrowsError(try interpreter.resizeInput(at: 0, to: [1, 0, 4, 3])) {
            guard case EngineError.invalidArgument? = $0 as? EngineError else { return XCTFail("\($0)") }
        }
        try interpreter.allocateTensors()
        XCTAssertThrowsError(try interpreter.copy(Data([1, 2, 3]), toInputAt: 0)) {
            guard case EngineError.invalidArgument? = $0 as? EngineError else { return XCTFail("\($0)") }
        }
        XCTAssertThrowsError(try interpreter.output(at: -1)) { XCTAssertTrue($0 is EngineError) }
    }

    func testEveryUnsupportedOperatorIsNamedAtLoad() throws {
        var b = OpModelBuilder()
        let x = b.input("x", .float32, [4])
        let y = b.tensor("y", .float32, [4], isOutput: false)
        let z = b.tensor("z", .float32, [4])
        b.op(BuiltinOperator(rawValue: 47), inputs: [x], outputs: [y])  // EXP
        var d = b.definition
        d.subgraphs = [Subgraph(tensors: b.tensors, inputs: b.inputs, outputs: b.outputs, operators: b.operators + [
            OperatorDescription(opcodeIndex: d.operatorCodeIndex(.custom, customCode: "fake-op-double"), inputs: [y], outputs: [z]),
        ])]
        XCTAssertThrowsError(try Interpreter(model: try Model(data: ModelWriter.serialize(d)))) { error in
            XCTAssertEqual(error as? EngineError, .unsupportedOperators([
                "builtin op EXP (version 1) is not supported", "custom op 'fake-op-double' is not supported",
            ]))
        }
    }

    func testOneModelBacksManyInterpretersOnManyThreads() throws {
        let model = try Model(data: convModel(height: 6, width: 6).build())
        var rng = SeededGenerator(seed: 3)
        let input = Bytes.of((0..<(6 * 6 * 3)).map { _ in Float.random(in: -1...1, using: &rng) })
        let expected = try convModel(height: 6, width: 6).run([input])[0]
        let results = Mutex([Bool](repeating: false, count: 8))
        DispatchQueue.concurrentPerform(iterations: 8) { i in
            guard let interpreter = try? Interpreter(model: model, options: .init(threadCount: 1, kernels: .reference)),
                  (try? interpreter.allocateTensors()) != nil,
                  (try? interpreter.copy(Data(input), toInputAt: 0)) != nil,
                  (try? interpreter.invoke()) != nil,
                  let out = try? interpreter.output(at: 0) else { return }
            let same = Array(out.data) == expected
            results.withLock { $0[i] = same }
        }
        XCTAssertEqual(results.withLock { $0 }, [Bool](repeating: true, count: 8))
    }
}
