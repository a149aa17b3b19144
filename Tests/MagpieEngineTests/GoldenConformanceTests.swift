import Foundation
import XCTest
import MagpieEngine
import MagpieModel
import MagpieTestSupport

/// Walks every case under `golden/` and checks Magpie's reference kernels against LiteRT's:
/// quantized outputs byte for byte, float outputs within 1e-5. The optimized kernels (2 threads) are held to the
/// same bytes for quantized outputs in the reference arithmetic (they are exact), and for float outputs to the same
/// top-1 and a difference no larger than LiteRT's own reference-vs-XNNPACK drift on that case
/// (`output_*.xnn.bin`), or 1e-5. In XNNPACK's arithmetic (their default) quantized outputs are held to that drift.
final class GoldenConformanceTests: XCTestCase {
    struct Case: Decodable {
        struct TensorSpec: Decodable {
            let name: String
            let shape: [Int]
            let dtype: String
            let file: String
        }
        let model: String
        let inputs: [TensorSpec]
        let outputs: [TensorSpec]
    }

    struct Refusal: Decodable {
        let model: String
        let litert_error: String
    }

    func testEveryGoldenCase() throws {
        try walk(kernels: .reference, requantization: .reference, threads: 1)
    }

    func testEveryGoldenCaseOptimizedKernels() throws {
        try walk(kernels: .optimized, requantization: .reference, threads: 2)
    }

    /// XNNPACK's arithmetic (the optimized kernels' default): every quantized output within LiteRT's own
    /// reference-vs-XNNPACK drift on that case, with the same top-1, and the optimized kernels' bytes equal to the
    /// reference kernels' in the same arithmetic.
    func testEveryGoldenCaseXNNPACKArithmetic() throws {
        try walk(kernels: .optimized, requantization: .xnnpack, threads: 2)
    }

    private func walk(kernels: KernelSet, requantization: Requantization, threads: Int) throws {
        let root = try TestData.require()
        let golden = root.appendingPathComponent("golden")
        let fm = FileManager.default
        var checked = 0, refused = 0
        for modelDir in try fm.contentsOfDirectory(atPath: golden.path).sorted() {
            let dir = golden.appendingPathComponent(modelDir)
            let errorFile = dir.appendingPathComponent("error.json")
            if let data = fm.contents(atPath: errorFile.path) {
                let refusal = try JSONDecoder().decode(Refusal.self, from: data)
                try checkRefused(root.appendingPathComponent("models/\(refusal.model)").path, litert: refusal.litert_error)
                refused += 1
                continue
            }
            for caseName in try fm.contentsOfDirectory(atPath: dir.path).sorted() {
                let caseDir = dir.appendingPathComponent(caseName)
                guard let json = fm.contents(atPath: caseDir.appendingPathComponent("case.json").path) else { continue }
                let c = try JSONDecoder().decode(Case.self, from: json)
                try check(c, in: caseDir, modelPath: root.appendingPathComponent("models/\(c.model)").path,
                          label: "\(modelDir)/\(caseName) (\(kernels), \(requantization))", kernels: kernels,
                          requantization: requantization, threads: threads)
                checked += 1
            }
        }
        XCTAssertGreaterThan(checked, 0, "no golden cases found under \(golden.path)")
        print("golden conformance (\(kernels) kernels): \(checked) cases checked, \(refused) refusals checked")
    }

    /// A quantized output in XNNPACK's arithmetic against LiteRT's reference output: 8-bit values differ by at most
    /// LiteRT's own drift (the largest difference between its XNNPACK and reference outputs on this case), other
    /// integers (class labels) in at most as many places as XNNPACK's do, and a classifier's top-1 is the
    /// reference's unless the reference has a near-tie within the drift.
    private func checkWithinDrift(actual: [UInt8], expected: [UInt8], spec: Case.TensorSpec, dir: URL,
                                  label: String) throws {
        let xnnFile = dir.appendingPathComponent(spec.file.replacingOccurrences(of: ".ref.bin", with: ".xnn.bin"))
        guard let xnn = FileManager.default.contents(atPath: xnnFile.path) else {
            XCTFail("\(label): no XNNPACK output (\(xnnFile.lastPathComponent)) to take the drift from")
            return
        }
        let a = try XCTUnwrap(Bytes.integers(actual, dtype: spec.dtype), label)
        let e = try XCTUnwrap(Bytes.integers(expected, dtype: spec.dtype), label)
        let x = try XCTUnwrap(Bytes.integers(Array(xnn), dtype: spec.dtype), label)
        XCTAssertEqual(a.count, e.count, label)
        XCTAssertEqual(x.count, e.count, label)
        let drift = zip(x, e).map { abs($0 - $1) }.max() ?? 0
        let error = zip(a, e).map { abs($0 - $1) }.max() ?? 0
        let differ = zip(a, e).filter { $0 != $1 }.count, xnnDiffer = zip(x, e).filter { $0 != $1 }.count
        let fromXNNPACK = zip(a, x).map { abs($0 - $1) }.max() ?? 0
        print("xnnpack arithmetic: \(label): max difference \(error) in \(differ) places; LiteRT's drift \(drift) in \(xnnDiffer); \(fromXNNPACK) from XNNPACK's output")
        if spec.dtype == "int8" || spec.dtype == "uint8" {
            XCTAssertLessThanOrEqual(error, drift, "\(label): differs from LiteRT's reference by more than its drift")
        } else {
            XCTAssertLessThanOrEqual(differ, xnnDiffer, "\(label): more labels differ than XNNPACK's")
        }
        if spec.shape.count == 2, e.count > 1, let top = a.indices.max(by: { a[$0] < a[$1] }),
           let expectedTop = e.indices.max(by: { e[$0] < e[$1] }), e[expectedTop] - e[top] > drift {
            XCTAssertEqual(top, expectedTop, "\(label): top-1 differs")
        }
    }

    private func checkRefused(_ modelPath: String, litert: String) throws {
        XCTAssertThrowsError(try Interpreter(modelPath: modelPath, options: .init(kernels: .reference)),
                             "LiteRT refuses \(modelPath) (\(litert)); Magpie must too") { error in
            XCTAssertTrue(error is EngineError, "\(error)")
            if litert.contains("custom op") {
                XCTAssertTrue("\(error)".contains("custom op"), "\(error)")
            }
        }
    }

    private func check(_ c: Case, in dir: URL, modelPath: String, label: String, kernels: KernelSet,
                       requantization: Requantization, threads: Int) throws {
        /// The case's model with these kernels, invoked on the case's inputs.
        func invoked(_ kernels: KernelSet, threads: Int) throws -> Interpreter {
            let interpreter = try Interpreter(modelPath: modelPath, options: .init(
                threadCount: threads, kernels: kernels, requantization: requantization))
            try interpreter.allocateTensors()
            XCTAssertEqual(interpreter.inputTensorCount, c.inputs.count, label)
            for (i, spec) in c.inputs.enumerated() {
                try interpreter.copy(try Data(contentsOf: dir.appendingPathComponent(spec.file)), toInputAt: i)
            }
            try interpreter.invoke()
            return interpreter
        }
        let interpreter = try invoked(kernels, threads: threads)
        // The reference kernels in the same arithmetic, run once per case when an output needs them.
        var reference: Interpreter? = nil
        XCTAssertEqual(interpreter.outputTensorCount, c.outputs.count, label)
        for (i, spec) in c.outputs.enumerated() {
            let expected = try Data(contentsOf: dir.appendingPathComponent(spec.file))
            let actual = try interpreter.output(at: i)
            XCTAssertEqual(actual.shape.dimensions, spec.shape, "\(label) output \(i) shape")
            XCTAssertEqual(actual.dataType.description, spec.dtype, "\(label) output \(i) type")
            if spec.dtype == "float32" {
                let a = Bytes.floats(Array(actual.data)), e = Bytes.floats(Array(expected))
                XCTAssertEqual(a.count, e.count, label)
                let maxError = zip(a, e).map { abs($0 - $1) }.max() ?? 0
                var tolerance: Float = 1e-5
                if kernels == .optimized {
                    let xnnFile = dir.appendingPathComponent(spec.file.replacingOccurrences(of: ".ref.bin", with: ".xnn.bin"))
                    if let xnn = FileManager.default.contents(atPath: xnnFile.path) {
                        let x = Bytes.floats(Array(xnn))
                        tolerance = max(tolerance, zip(x, e).map { abs($0 - $1) }.max() ?? 0)
                    }
                    // Classifier outputs ([1, classes]): the same top-1, unless the reference itself has a near-tie
                    // within the drift allowed here.
                    if spec.shape.count == 2, a.count == e.count, a.count > 1,
                       let top = a.indices.max(by: { a[$0] < a[$1] }),
                       let expectedTop = e.indices.max(by: { e[$0] < e[$1] }),
                       e[expectedTop] - e[top] > tolerance {
                        XCTAssertEqual(top, expectedTop, "\(label) output \(i): top-1 differs")
                    }
                }
                XCTAssertLessThanOrEqual(maxError, tolerance, "\(label) output \(i): max abs error \(maxError)")
            } else if requantization == .xnnpack {
                try checkWithinDrift(actual: Array(actual.data), expected: Array(expected), spec: spec, dir: dir,
                                     label: "\(label) output \(i)")
                if reference == nil { reference = try invoked(.reference, threads: 1) }
                let same = try reference?.output(at: i).data == actual.data
                XCTAssertTrue(same, "\(label) output \(i): the optimized kernels differ from the reference kernels in XNNPACK's arithmetic")
            } else {
                let mismatches = zip(actual.data, expected).filter { $0 != $1 }.count
                XCTAssertEqual(actual.data.count, expected.count, label)
                XCTAssertEqual(mismatches, 0, "\(label) output \(i): \(mismatches) of \(expected.count) bytes differ from LiteRT's reference")
            }
        }
    }
}
