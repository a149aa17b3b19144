import Foundation
import XCTest
import MagpieEngine
import MagpieModel
import MagpieTestSupport

/// Helpers for the shape-operator tests.
enum ShapeTest {
    static func q(_ scale: Float, _ zeroPoint: Int) -> QuantizationParameters {
        QuantizationParameters(scales: [scale], zeroPoints: [Int64(zeroPoint)])
    }

    /// Random little-endian bytes for `count` elements of `type`.
    static func random(_ type: TensorType, _ count: Int, _ g: inout SeededGenerator) -> [UInt8] {
        switch type {
        case .float32: return Bytes.of((0..<count).map { _ in Float.random(in: -8...8, using: &g) })
        case .int32: return Bytes.of((0..<count).map { _ in Int32.random(in: -100_000...100_000, using: &g) })
        case .int64: return Bytes.of((0..<count).map { _ in Int64.random(in: -(1 << 40)...(1 << 40), using: &g) })
        case .bool: return (0..<count).map { _ in UInt8.random(in: 0...1, using: &g) }
        default: return (0..<count).map { _ in UInt8.random(in: 0...255, using: &g) }
        }
    }

    static func bytes(_ values: [Int], as type: TensorType) -> [UInt8] {
        type == .int64 ? Bytes.of(values.map(Int64.init)) : Bytes.of(values.map(Int32.init))
    }

    /// Builds the model and runs it in Magpie.
    static func runMagpie(_ b: OpModelBuilder, _ inputs: [[UInt8]]) throws -> [[UInt8]] {
        try b.run(inputs)
    }

    /// Runs `b` in Magpie and in LiteRT's reference kernels and asserts every output agrees: byte for byte, or
    /// for float32 outputs within `floatTolerance` when one is given. Skips (after running Magpie) when LiteRT is
    /// unavailable. Returns Magpie's outputs.
    @discardableResult
    static func assertMatchesLiteRT(_ b: OpModelBuilder, _ inputs: [[UInt8]], floatTolerance: Float? = nil,
                                    label: String = "", file: StaticString = #filePath, line: UInt = #line) throws -> [[UInt8]] {
        let ours = try b.run(inputs)
        if let reason = LiteRTReference.unavailableReason { throw XCTSkip(reason) }
        let outcome = try LiteRTReference.run(model: b.build(), inputs: inputs, outputCount: b.outputs.count)
        guard case let .outputs(theirs) = outcome else {
            XCTFail("\(label): LiteRT refused the model: \(outcome)", file: file, line: line)
            return ours
        }
        XCTAssertEqual(ours.count, theirs.count, file: file, line: line)
        for (k, (a, r)) in zip(ours, theirs).enumerated() {
            let t = b.tensors[b.outputs[k]]
            if let tol = floatTolerance, t.type == .float32 {
                let x = Bytes.floats(a), y = Bytes.floats(r)
                XCTAssertEqual(x.count, y.count, "\(label): output \(k) '\(t.name)' size", file: file, line: line)
                let worst = zip(x, y).map { abs($0 - $1) }.max() ?? 0
                XCTAssertLessThanOrEqual(worst, tol, "\(label): output \(k) '\(t.name)' differs from LiteRT by \(worst)", file: file, line: line)
            } else if a != r {
                let firstDiff = zip(a, r).enumerated().first { $0.element.0 != $0.element.1 }
                let diffs = zip(a, r).filter { $0 != $1 }.count
                XCTFail("\(label): output \(k) '\(t.name)' (\(t.type)) differs from LiteRT: \(a.count) vs \(r.count) bytes, \(diffs) bytes differ, first at \(firstDiff.map { "\($0.offset): \($0.element.0) vs \($0.element.1)" } ?? "-")",
                        file: file, line: line)
            }
        }
        return ours
    }

    /// Asserts that preparing the model fails with `EngineError.invalidOperator` for `op`, whose reason
    /// contains `fragment`.
    static func assertRefused(_ b: OpModelBuilder, _ op: String, _ fragment: String = "",
                              file: StaticString = #filePath, line: UInt = #line) {
        do {
            let interpreter = try Interpreter(model: try Model(data: b.build()), options: .init(kernels: .reference))
            try interpreter.allocateTensors()
            XCTFail("\(op) was accepted", file: file, line: line)
        } catch let EngineError.invalidOperator(_, name, reason) {
            XCTAssertEqual(name, op, file: file, line: line)
            XCTAssertTrue(fragment.isEmpty || reason.contains(fragment), "reason '\(reason)' lacks '\(fragment)'", file: file, line: line)
        } catch {
            XCTFail("unexpected error \(error)", file: file, line: line)
        }
    }

    /// Asserts LiteRT also refuses the model (when LiteRT is available).
    static func assertLiteRTRefuses(_ b: OpModelBuilder, _ inputs: [[UInt8]], file: StaticString = #filePath, line: UInt = #line) throws {
        guard LiteRTReference.unavailableReason == nil else { return }
        let outcome = try LiteRTReference.run(model: b.build(), inputs: inputs, outputCount: b.outputs.count)
        if case .outputs = outcome { XCTFail("LiteRT accepted the model", file: file, line: line) }
    }

    /// A one-model copy of operators `ops` of `model`'s main subgraph: tensors with constant data stay constant,
    /// other tensors the operators read but do not write become graph inputs, and every output becomes a graph
    /// output. Types, shapes, quantization, options and versions are kept.
    static func replicate(_ model: Model, ops: [Int]) -> OpModelBuilder {
        let g = model.subgraphs[0]
        var b = OpModelBuilder()
        var map: [Int: Int] = [:]
        let produced = Set(ops.flatMap { g.operators[$0].outputs })
        for i in ops {
            let op = g.operators[i]
            var inputs: [Int] = []
            for t in op.inputs {
                guard t >= 0 else { inputs.append(-1); continue }
                if let m = map[t] { inputs.append(m); continue }
                let d = g.tensors[t]
                let m: Int
                let data = d.buffer > 0 ? model.data(ofBuffer: d.buffer) : UnsafeRawBufferPointer(start: nil, count: 0)
                if data.count > 0, !produced.contains(t) {
                    let bytes = Array(data)
                    m = b.constant(d.name, d.type, d.shape, bytes: bytes, quantization: d.quantization)
                } else {
                    m = b.input(d.name, d.type, d.shape, quantization: d.quantization)
                }
                map[t] = m
                inputs.append(m)
            }
            var outputs: [Int] = []
            for t in op.outputs {
                let d = g.tensors[t]
                let m = b.tensor(d.name, d.type, d.shape, quantization: d.quantization)
                map[t] = m
                outputs.append(m)
            }
            let code = model.operatorCodes[op.opcodeIndex]
            b.op(code.builtin, inputs: inputs, outputs: outputs, options: op.options, version: code.version)
        }
        return b
    }
}
