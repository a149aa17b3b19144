import Foundation
import XCTest
import MagpieEngine
import MagpieModel
import MagpieTestSupport

/// A multi-operator test model: every operator reads its own graph inputs and writes its own graph outputs, so many
/// independent cases are checked against LiteRT with one Python call.
struct ElementwiseTestModel {
    var builder = OpModelBuilder()
    var inputData: [[UInt8]] = []
    var outputTypes: [TensorType] = []
    var outputLabels: [String] = []
    var rng: SeededGenerator

    init(seed: UInt64) { rng = SeededGenerator(seed: seed) }

    /// Adds a graph input holding `data`.
    @discardableResult
    mutating func input(_ type: TensorType, _ shape: [Int], _ q: QuantizationParameters? = nil,
                        data: [UInt8]) -> Int {
        precondition(data.count == shape.reduce(1, *) * (type.byteSize ?? 1), "data size does not match \(shape) \(type)")
        inputData.append(data)
        return builder.input("in\(inputData.count - 1)", type, shape, quantization: q)
    }

    /// Adds a constant tensor.
    mutating func constant(_ type: TensorType, _ shape: [Int], _ q: QuantizationParameters? = nil,
                           data: [UInt8]) -> Int {
        builder.constant("const\(builder.tensors.count)", type, shape, bytes: data, quantization: q)
    }

    /// Adds a graph output; `label` names the case in failure messages.
    mutating func output(_ type: TensorType, _ shape: [Int], _ q: QuantizationParameters? = nil,
                         label: String) -> Int {
        outputTypes.append(type)
        outputLabels.append(label)
        return builder.tensor("out\(outputTypes.count - 1)", type, shape, quantization: q)
    }

    mutating func op(_ op: BuiltinOperator, _ inputs: [Int], _ outputs: [Int], _ options: OperatorOptions = .none,
                     version: Int = 1) {
        builder.op(op, inputs: inputs, outputs: outputs, options: options, version: version)
    }

    // MARK: Random data

    mutating func bytes(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) } }

    mutating func floats(_ count: Int, _ range: ClosedRange<Float>) -> [UInt8] {
        Bytes.of((0..<count).map { _ in Float.random(in: range, using: &rng) })
    }

    mutating func ints<T: FixedWidthInteger>(_ count: Int, _ range: ClosedRange<T>) -> [UInt8] {
        Bytes.of((0..<count).map { _ in T.random(in: range, using: &rng) })
    }

    mutating func scale(_ range: ClosedRange<Float>) -> Float {
        exp(Float.random(in: log(range.lowerBound)...log(range.upperBound), using: &rng))
    }

    mutating func zeroPoint(_ type: TensorType) -> Int {
        type == .uint8 ? Int.random(in: 0...255, using: &rng) : Int.random(in: -128...127, using: &rng)
    }

    // MARK: Running

    /// Runs the model in Magpie's reference kernels.
    func runMagpie() throws -> [[UInt8]] { try builder.run(inputData, kernels: .reference) }

    /// Runs the model in Magpie and in LiteRT's reference kernels and compares every output: byte equality for
    /// integer outputs, `floatTolerance` (absolute) for float32, NaN matching NaN.
    func assertMatchesLiteRT(floatTolerance: Float = 1e-5, file: StaticString = #filePath, line: UInt = #line) throws {
        let mine = try runMagpie()
        if let reason = LiteRTReference.unavailableReason { throw XCTSkip(reason) }
        let outcome = try LiteRTReference.run(model: builder.build(), inputs: inputData, outputCount: outputTypes.count)
        guard case let .outputs(reference) = outcome else {
            return XCTFail("LiteRT refused the model: \(outcome)", file: file, line: line)
        }
        XCTAssertEqual(mine.count, reference.count, file: file, line: line)
        for (k, type) in outputTypes.enumerated() where k < mine.count && k < reference.count {
            compare(mine[k], reference[k], type: type, label: outputLabels[k], tolerance: floatTolerance,
                    file: file, line: line)
        }
    }

    private func compare(_ a: [UInt8], _ b: [UInt8], type: TensorType, label: String, tolerance: Float,
                         file: StaticString, line: UInt) {
        guard a.count == b.count else {
            return XCTFail("\(label): \(a.count) bytes from Magpie, \(b.count) from LiteRT", file: file, line: line)
        }
        var mismatches: [String] = []
        var count = 0
        switch type {
        case .float32:
            let x = Bytes.floats(a), y = Bytes.floats(b)
            for i in x.indices {
                let same = (x[i].isNaN && y[i].isNaN) || x[i] == y[i] || abs(x[i] - y[i]) <= tolerance
                if !same {
                    count += 1
                    if mismatches.count < 8 { mismatches.append("[\(i)] \(x[i]) vs \(y[i])") }
                }
            }
        default:
            let size = type.byteSize ?? 1
            for i in 0..<(a.count / size) where a[(i * size)..<((i + 1) * size)] != b[(i * size)..<((i + 1) * size)] {
                count += 1
                if mismatches.count < 8 {
                    let x = Array(a[(i * size)..<((i + 1) * size)]), y = Array(b[(i * size)..<((i + 1) * size)])
                    mismatches.append("[\(i)] \(Self.describe(x, type)) vs \(Self.describe(y, type))")
                }
            }
        }
        if count > 0 {
            XCTFail("\(label): \(count) elements differ from LiteRT (Magpie vs LiteRT): \(mismatches.joined(separator: ", "))",
                    file: file, line: line)
        }
    }

    static func describe(_ bytes: [UInt8], _ type: TensorType) -> String {
        switch type {
        case .int8: return "\(Int8(bitPattern: bytes[0]))"
        case .int16: return "\(Bytes.array(bytes, as: Int16.self)[0])"
        case .int32: return "\(Bytes.array(bytes, as: Int32.self)[0])"
        case .int64: return "\(Bytes.array(bytes, as: Int64.self)[0])"
        default: return "\(bytes)"
        }
    }
}

/// Asserts that preparing `builder`'s model fails with `EngineError.invalidOperator` naming `op`.
func assertRefused(_ builder: OpModelBuilder, op: String, containing text: String? = nil,
                   file: StaticString = #filePath, line: UInt = #line) {
    do {
        let interpreter = try Interpreter(model: try Model(data: builder.build()), options: .init(kernels: .reference))
        XCTAssertThrowsError(try interpreter.allocateTensors(), file: file, line: line) { error in
            guard case let EngineError.invalidOperator(_, name, reason) = error, name == op else {
                return XCTFail("expected invalidOperator for \(op), got \(error)", file: file, line: line)
            }
            if let text { XCTAssert(reason.contains(text), "reason '\(reason)' lacks '\(text)'", file: file, line: line) }
        }
    } catch {
        XCTFail("model did not load: \(error)", file: file, line: line)
    }
}
