import XCTest
import MagpieEngine
import MagpieModel
import MagpieTestSupport

/// Symmetric per-channel quantization parameters along `axis`.
func perChannel(_ scales: [Float], axis: Int) -> QuantizationParameters {
    QuantizationParameters(scales: scales, zeroPoints: [Int64](repeating: 0, count: scales.count), quantizedDimension: axis)
}

/// TensorFlow's windowed output size (`GetWindowedOutputSize`), written independently of the engine:
/// SAME is `ceil(in / stride)`, VALID `ceil((in - effective + 1) / stride)`.
func windowedOutputSize(_ input: Int, filter: Int, stride: Int, dilation: Int = 1, padding: Padding) -> Int {
    let effective = (filter - 1) * dilation + 1
    switch padding {
    case .same: return (input + stride - 1) / stride
    case .valid: return max(0, (input - effective + stride) / stride)
    }
}

/// One model holding many independent operators with random inputs, so that a single LiteRT call checks them all.
///
/// With `MAGPIE_DIFF_STATS=1` in the environment it prints, per output, how many distinct values it holds (a test
/// whose outputs all saturate checks little), float differences, and the time each engine took.
struct DifferentialModel {
    static let printsStatistics = ProcessInfo.processInfo.environment["MAGPIE_DIFF_STATS"] != nil

    var builder = OpModelBuilder()
    var inputData: [[UInt8]] = []
    var outputs: [(label: String, type: TensorType)] = []
    var rng: SeededGenerator

    init(seed: UInt64) { rng = SeededGenerator(seed: seed) }

    /// Random little-endian bytes of `count` elements: integers uniform in `range` (default: the whole type, or
    /// ±1000 for int32/int64), floats uniform in `floatRange`.
    mutating func randomBytes(_ type: TensorType, count: Int, range: ClosedRange<Int>? = nil,
                              floatRange: ClosedRange<Float> = -2...2) -> [UInt8] {
        switch type {
        case .float32:
            return Bytes.of((0..<count).map { _ in Float.random(in: floatRange, using: &rng) })
        case .uint8:
            let r = range ?? 0...255
            return (0..<count).map { _ in UInt8(Int.random(in: r, using: &rng)) }
        case .int8:
            let r = range ?? -128...127
            return (0..<count).map { _ in UInt8(bitPattern: Int8(Int.random(in: r, using: &rng))) }
        case .int32:
            let r = range ?? -1000...1000
            return Bytes.of((0..<count).map { _ in Int32(Int.random(in: r, using: &rng)) })
        case .int64:
            let r = range ?? -1000...1000
            return Bytes.of((0..<count).map { _ in Int64(Int.random(in: r, using: &rng)) })
        default:
            preconditionFailure("no random data for \(type)")
        }
    }

    /// A graph input filled with random data.
    @discardableResult
    mutating func input(_ name: String, _ type: TensorType, _ shape: [Int], _ q: QuantizationParameters? = nil,
                        range: ClosedRange<Int>? = nil, floatRange: ClosedRange<Float> = -2...2) -> Int {
        let index = builder.input(name, type, shape, quantization: q)
        inputData.append(randomBytes(type, count: shape.reduce(1, *), range: range, floatRange: floatRange))
        return index
    }

    /// A constant with random data.
    mutating func randomConstant(_ name: String, _ type: TensorType, _ shape: [Int], _ q: QuantizationParameters? = nil,
                                 range: ClosedRange<Int>? = nil, floatRange: ClosedRange<Float> = -2...2) -> Int {
        let bytes = randomBytes(type, count: shape.reduce(1, *), range: range, floatRange: floatRange)
        return builder.constant(name, type, shape, bytes: bytes, quantization: q)
    }

    /// A graph output, compared under `label`.
    mutating func output(_ label: String, _ type: TensorType, _ shape: [Int], _ q: QuantizationParameters? = nil) -> Int {
        outputs.append((label, type))
        return builder.tensor(label, type, shape, quantization: q)
    }

    /// Runs the model in Magpie's reference kernels and in LiteRT's; asserts the outputs are byte-identical
    /// (float32: within 1e-5). Skips when LiteRT is unavailable.
    func assertMatchesLiteRT(file: StaticString = #filePath, line: UInt = #line) throws {
        let start = Date()
        let mine = try builder.run(inputData)
        let magpieDone = Date()
        defer {
            if Self.printsStatistics {
                print("Magpie \(magpieDone.timeIntervalSince(start)) s, LiteRT \(Date().timeIntervalSince(magpieDone)) s")
            }
        }
        if let reason = LiteRTReference.unavailableReason { throw XCTSkip(reason) }
        let outcome = try LiteRTReference.run(model: builder.build(), inputs: inputData, outputCount: outputs.count)
        guard case let .outputs(theirs) = outcome else {
            return XCTFail("LiteRT refused the model: \(outcome)", file: file, line: line)
        }
        XCTAssertEqual(mine.count, theirs.count, file: file, line: line)
        for (k, (label, type)) in outputs.enumerated() where k < theirs.count {
            Self.compare(label, type, mine[k], theirs[k], file: file, line: line)
        }
    }

    /// Asserts two output buffers agree: float32 within 1e-5 (NaN matching NaN), other types byte for byte.
    static func compare(_ label: String, _ type: TensorType, _ mine: [UInt8], _ theirs: [UInt8],
                        file: StaticString = #filePath, line: UInt = #line) {
        guard mine.count == theirs.count else {
            return XCTFail("\(label): \(mine.count) bytes from Magpie, \(theirs.count) from LiteRT", file: file, line: line)
        }
        XCTAssertFalse(mine.isEmpty, "\(label): empty output", file: file, line: line)
        if printsStatistics {
            let width = type.byteSize ?? 1
            let distinct = Set(stride(from: 0, to: mine.count, by: width).map { mine[$0..<$0 + width] }).count
            print("\(label): \(mine.count / width) elements, \(distinct) distinct")
        }
        switch type {
        case .float32:
            let a = Bytes.floats(mine), b = Bytes.floats(theirs)
            var worst: Float = 0, worstIndex = 0
            for i in a.indices {
                if a[i].isNaN && b[i].isNaN { continue }
                let d = abs(a[i] - b[i])
                if !(d <= worst) { worst = d; worstIndex = i }
            }
            if printsStatistics {
                print("\(label): max float difference \(worst), bit-identical: \(mine == theirs)")
            }
            XCTAssert(worst <= 1e-5, "\(label): max |Magpie - LiteRT| = \(worst) at \(worstIndex) (\(a[worstIndex]) vs \(b[worstIndex]))",
                      file: file, line: line)
        default:
            let width = type.byteSize ?? 1
            let mismatches = stride(from: 0, to: mine.count, by: width).filter { mine[$0..<$0 + width] != theirs[$0..<$0 + width] }
            if let first = mismatches.first {
                XCTFail("\(label): \(mismatches.count) of \(mine.count / width) elements differ; first at \(first / width): Magpie \(describe(type, mine, first)) vs LiteRT \(describe(type, theirs, first))",
                        file: file, line: line)
            }
        }
    }

    private static func describe(_ type: TensorType, _ bytes: [UInt8], _ offset: Int) -> String {
        switch type {
        case .int8: return "\(Int8(bitPattern: bytes[offset]))"
        case .uint8: return "\(bytes[offset])"
        case .int32: return "\(Bytes.array(Array(bytes[offset..<offset + 4]), as: Int32.self)[0])"
        case .int64: return "\(Bytes.array(Array(bytes[offset..<offset + 8]), as: Int64.self)[0])"
        default: return "\(bytes[offset])"
        }
    }
}

/// Asserts that preparing `builder`'s model fails with `EngineError.invalidOperator` naming `op`, and that the reason
/// mentions `reasonContains` (case-insensitive).
func assertRefused(_ builder: OpModelBuilder, op: String, _ reasonContains: String,
                   file: StaticString = #filePath, line: UInt = #line) {
    do {
        let interpreter = try Interpreter(model: try Model(data: builder.build()), options: .init(kernels: .reference))
        XCTAssertThrowsError(try interpreter.allocateTensors(), file: file, line: line) { error in
            guard case let EngineError.invalidOperator(_, name, reason) = error else {
                return XCTFail("expected invalidOperator, got \(error)", file: file, line: line)
            }
            XCTAssertEqual(name, op, file: file, line: line)
            XCTAssert(reason.lowercased().contains(reasonContains.lowercased()),
                      "reason '\(reason)' does not mention '\(reasonContains)'", file: file, line: line)
        }
    } catch {
        XCTFail("model could not be loaded: \(error)", file: file, line: line)
    }
}

/// Asserts that Magpie refuses `builder`'s model at `allocateTensors()` and that LiteRT refuses it too
/// (`inputs` feed LiteRT, which only reports some refusals when it runs).
func assertBothRefuse(_ name: String, _ builder: OpModelBuilder, inputs: [[UInt8]],
                      file: StaticString = #filePath, line: UInt = #line) throws {
    XCTAssertThrowsError(try Interpreter(model: try Model(data: builder.build()), options: .init(kernels: .reference))
        .allocateTensors(), "\(name): Magpie accepted it", file: file, line: line)
    if let reason = LiteRTReference.unavailableReason { throw XCTSkip(reason) }
    let outcome = try LiteRTReference.run(model: builder.build(), inputs: inputs, outputCount: 1)
    guard case .refused = outcome else {
        return XCTFail("\(name): LiteRT accepted it", file: file, line: line)
    }
}
