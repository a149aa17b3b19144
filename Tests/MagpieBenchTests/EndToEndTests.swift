import Foundation
import XCTest
import MagpieBench
import MagpieEngine
import MagpieModel
import MagpieTestSupport

/// A target that records what the method does with it.
final class FakeTarget: BenchTarget {
    var calls: [String] = []
    var runs = 0
    let failAt: Int?
    init(failAt: Int? = nil) { self.failAt = failAt }
    func prepare() throws { calls.append("prepare") }
    func runOnce() throws {
        runs += 1
        if runs == failAt { throw BenchError.target("boom") }
        if calls.last != "run" { calls.append("run") }
    }
    func outputScores() throws -> [Float] { calls.append("scores"); return [0, 3, 1] }
    func profileOnce() throws -> [OperatorSample]? {
        calls.append("profile")
        return [OperatorSample(index: 0, type: "FAKE", nanoseconds: 5)]
    }
}

final class EndToEndTests: XCTestCase {
    func testMethodCallsTheTargetInOrder() throws {
        let target = FakeTarget()
        let method = BenchMethod(warmupRuns: 3, pauseSeconds: 0, runs: 17, profileRuns: 2)
        let m = try method.measure(target)
        XCTAssertEqual(target.calls, ["prepare", "run", "scores", "profile", "profile"])
        XCTAssertEqual(target.runs, 1 + 3 + 17, "first inference, warm-up, timed runs")
        XCTAssertEqual(m.samplesNanoseconds.count, 17)
        XCTAssertEqual(m.warmupNanoseconds.count, 3)
        XCTAssertEqual(m.scores, [0, 3, 1])
        XCTAssertEqual(m.profile.count, 2)
        XCTAssertGreaterThanOrEqual(m.loopWallNanoseconds, m.samplesNanoseconds.reduce(0, +))
        XCTAssertEqual(m.loopEnd - m.loopStart, m.loopWallNanoseconds)
    }

    func testMinimumSecondsKeepsRunningPastTheRunCount() throws {
        let target = FakeTarget()
        let m = try BenchMethod(warmupRuns: 0, pauseSeconds: 0, runs: 1, minimumSeconds: 0.05).measure(target)
        XCTAssertGreaterThan(m.samplesNanoseconds.count, 1)
        XCTAssertGreaterThanOrEqual(Double(m.loopWallNanoseconds) / 1e9, 0.05)
    }

    func testProgressIsReportedDuringLongLoops() throws {
        var reports: [BenchProgress] = []
        _ = try BenchMethod(warmupRuns: 0, pauseSeconds: 0, runs: 1, minimumSeconds: 0.5)
            .measure(FakeTarget(), label: "fake", progress: { reports.append($0) })
        XCTAssertFalse(reports.isEmpty)
        XCTAssertEqual(reports.first?.label, "fake")
        XCTAssertEqual(reports.first?.plannedSeconds, 0.5)
        XCTAssertEqual(reports.map(\.completedRuns), reports.map(\.completedRuns).sorted())
        XCTAssertTrue(reports.allSatisfy { (0...1).contains($0.fraction) })
    }

    func testFailuresNameTheInference() {
        XCTAssertThrowsError(try BenchMethod(warmupRuns: 0, pauseSeconds: 0, runs: 10).measure(FakeTarget(failAt: 4), label: "fake")) { error in
            XCTAssertEqual("\(error)", "fake: inference 3 failed: boom")
        }
        XCTAssertThrowsError(try BenchMethod(runs: 0).measure(FakeTarget()))
    }

    /// float32 [1, 4, 5] → RESHAPE → [1, 20]: the output is the input, so its ranking is the input's.
    private func reshapeModel() throws -> String {
        var b = OpModelBuilder()
        let x = b.input("x", .float32, [1, 4, 5])
        let shape = b.constant("shape", .int32, [2], bytes: Bytes.of([Int32(1), 20]))
        let y = b.tensor("y", .float32, [1, 20])
        b.op(.reshape, inputs: [x, shape], outputs: [y], options: .reshape(newShape: [1, 20]))
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("magpie-bench-reshape-\(UUID().uuidString).tflite")
        try Data(b.build()).write(to: url)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url.path
    }

    private func inputFloats(seed: UInt64, count: Int) -> [Float] {
        var generator = RandomInput(seed: seed)
        let d = TensorDescription(name: "x", type: .float32, shape: [1, count])
        return Bytes.floats(Array(generator.bytes(for: d)))
    }

    func testSessionRunsARealModelThroughMagpie() throws {
        let path = try reshapeModel()
        let plan = BenchPlan(models: [.file(path)], threads: [1, 2], runtimes: [.magpie(.reference)],
                             method: BenchMethod(warmupRuns: 1, pauseSeconds: 0, runs: 12, profileRuns: 3),
                             inputDescription: "random (seed 5)", makeInputs: RandomInput.provider(seed: 5),
                             energy: .declared(watts: 2), machineName: "test-box")
        var logged: [String] = []
        let session = BenchSession(plan: plan)
        session.log = { logged.append($0) }
        let doc = try session.run()
        XCTAssertEqual(doc.results.count, 2)
        XCTAssertEqual(logged.count, 2)
        let r = doc.results[0]
        XCTAssertEqual(r.threads, 1)
        XCTAssertEqual(doc.results[1].threads, 2)
        XCTAssertEqual(r.runtime.name, "magpie")
        XCTAssertEqual(r.runtime.configuration, "reference")
        XCTAssertEqual(r.samplesNs.count, 12)
        XCTAssertEqual(r.model.operatorCount, 1)
        XCTAssertEqual(r.model.inputs, ["float32[1, 4, 5]"])
        XCTAssertEqual(r.model.fileBytes, try Data(contentsOf: URL(fileURLWithPath: path)).count)
        XCTAssertEqual(r.fingerprint.name, "test-box")
        XCTAssertEqual(r.energy?.source, .declared)
        XCTAssertEqual(r.energy!.joules, 2 * r.loopSeconds, accuracy: 1e-9)
        XCTAssertEqual(r.profile?.operators.map(\.type), ["RESHAPE"])
        XCTAssertEqual(r.profile?.runs, 3)
        let input = inputFloats(seed: 5, count: 20)
        XCTAssertEqual(r.output, input, "RESHAPE returns its input")
        let expectedTop = input.indices.sorted { input[$0] > input[$1] }.prefix(5)
        XCTAssertEqual(r.top.map(\.index), Array(expectedTop))
        XCTAssertTrue(doc.agreements.isEmpty, "one configuration: nothing to compare")
        XCTAssertEqual(try BenchDocument.decode(try doc.jsonData()), doc)
    }

    /// The optimized kernels fuse an expansion with the depthwise convolution after it and the projection after
    /// them, at one thread and at two; the profile says so instead of showing operators that take no time.
    func testProfileNamesFusedOperators() throws {
        try XCTSkipUnless(KernelFusion.available, "operator fusion needs the AVX2 + FMA float kernels, which this CPU lacks")
        let block = ExpansionBlock(n: 1, h: 64, w: 64, cin: 8, expanded: 32, stride: 1, activation: .relu6)
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("magpie-bench-block-\(UUID().uuidString).tflite")
        try Data(block.build(seed: 9).model).write(to: url)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        let plan = BenchPlan(models: [.file(url.path)], threads: [1, 2], runtimes: [.magpie(.optimized)],
                             method: BenchMethod(warmupRuns: 1, pauseSeconds: 0, runs: 3, profileRuns: 2),
                             inputDescription: "random (seed 5)", makeInputs: RandomInput.provider(seed: 5))
        let doc = try BenchSession(plan: plan).run()
        let fused = ["CONV_2D", "CONV_2D+DEPTHWISE_CONV_2D+CONV_2D", "DEPTHWISE_CONV_2D (fused)", "CONV_2D (fused)"]
        XCTAssertEqual(doc.results.map { $0.threads }, [1, 2])
        XCTAssertEqual(doc.results.map { $0.profile?.operators.map(\.type) ?? [] }, [fused, fused])
    }

    func testRuntimesAlternateInTheSchedule() throws {
        let plan = BenchPlan(models: [.file("a.tflite"), .file("b.tflite")], threads: [1, 2],
                             runtimes: [.magpie(.optimized), .peer(.litert)], repeats: 2,
                             inputDescription: "x", makeInputs: { _ in [] })
        let order = plan.schedule.map { "\($0.model) t\($0.threads) \($0.runtime)" }
        XCTAssertEqual(Array(order.prefix(8)), [
            "0 t1 magpie/optimized", "0 t1 litert", "0 t1 litert", "0 t1 magpie/optimized",
            "0 t2 magpie/optimized", "0 t2 litert", "0 t2 litert", "0 t2 magpie/optimized",
        ])
        XCTAssertEqual(order.count, 16)
        XCTAssertEqual(try BenchRuntime(parsing: "ort", kernels: .optimized), .peer(.onnxruntime))
        XCTAssertThrowsError(try BenchRuntime(parsing: "tensorrt", kernels: .optimized))
    }

    /// `magpie-bf16` is Magpie with the opt-in bfloat16 float precision, labelled apart from float32 Magpie so that
    /// the ratio and agreement tables show both; it needs the optimized kernels.
    func testBFloat16Runtime() throws {
        let bf16 = try BenchRuntime(parsing: "magpie-bf16", kernels: .optimized)
        XCTAssertEqual(bf16, .magpie(.optimized, precision: .bfloat16))
        XCTAssertEqual(bf16.description, "magpie/optimized-bf16")
        XCTAssertEqual(try BenchRuntime(parsing: "magpie", kernels: .optimized).description, "magpie/optimized")
        XCTAssertThrowsError(try BenchRuntime(parsing: "magpie-bf16", kernels: .reference))
        // A float model through both: two results, each with its own configuration.
        let model = ExpansionBlock(n: 1, h: 8, w: 8, cin: 64, expanded: 96, stride: 1, activation: .relu6)
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("magpie-bench-bf16-\(UUID().uuidString).tflite")
        try Data(model.build(seed: 3).model).write(to: url)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        let plan = BenchPlan(models: [.file(url.path)], threads: [1], runtimes: [.magpie(.optimized), bf16],
                             method: BenchMethod(warmupRuns: 1, pauseSeconds: 0, runs: 3),
                             inputDescription: "random (seed 5)", makeInputs: RandomInput.provider(seed: 5))
        let doc = try BenchSession(plan: plan).run()
        XCTAssertEqual(doc.results.map(\.runtime.configuration), ["optimized", "optimized-bf16"])
    }

    func testMagpieAndLiteRTAgreeOnIdenticalInputs() throws {
        if let reason = LiteRTReference.unavailableReason { throw XCTSkip(reason) }
        // Model bytes, as the built-in models come: the peer gets them as a temporary NAME.tflite.
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: try reshapeModel())))
        let plan = BenchPlan(models: [BenchModel(name: "reshape", source: .bytes(bytes))], runtimes: [.magpie(.reference), .peer(.litert)],
                             method: BenchMethod(warmupRuns: 1, pauseSeconds: 0, runs: 8),
                             inputDescription: "random (seed 9)", makeInputs: RandomInput.provider(seed: 9))
        let doc = try BenchSession(plan: plan).run()
        XCTAssertEqual(doc.results.map(\.runtime.name), ["magpie", "litert"])
        XCTAssertEqual(doc.results.map(\.id), ["magpie/reference/reshape/t1", "litert/reshape/t1"])
        XCTAssertNil(doc.results[1].model.path)
        XCTAssertEqual(doc.results[1].model.fileBytes, bytes.count)
        let peer = doc.results[1]
        XCTAssertEqual(peer.samplesNs.count, 8)
        XCTAssertFalse(peer.runtime.version.isEmpty)
        XCTAssertEqual(peer.output, inputFloats(seed: 9, count: 20), "LiteRT got the bytes Magpie prepared")
        XCTAssertEqual(doc.agreements.count, 1)
        XCTAssertTrue(doc.agreements[0].top1Agrees)
        XCTAssertEqual(doc.agreements[0].maxAbsDifference, 0)
        XCTAssertGreaterThan(peer.resources.peakRSSBytes, 0)
    }

    /// LiteRT and ONNX Runtime on a real float model (MobileNetV1 0.25/128) with identical random input: float32
    /// across runtimes agrees to about 1e-5 (../shared/anchors/README.md).
    func testPeersAgreeOnARealModel() throws {
        let data = try TestData.require()
        let model = data.appendingPathComponent("models/mobilenet_v1_0.25_128_float.tflite").path
        let anchors = data.deletingLastPathComponent().appendingPathComponent("anchors").path
        guard FileManager.default.fileExists(atPath: anchors + "/mobilenet_v1_0.25_128_float.onnx") else {
            throw XCTSkip("../shared/anchors/mobilenet_v1_0.25_128_float.onnx is absent")
        }
        if let reason = LiteRTReference.unavailableReason { throw XCTSkip(reason) }
        guard Self.pythonHas("onnxruntime") else {
            throw XCTSkip("onnxruntime is not installed (python3 -m pip install onnxruntime)")
        }
        let plan = BenchPlan(models: [.file(model)], runtimes: [.peer(.litert), .peer(.onnxruntime)],
                             method: BenchMethod(warmupRuns: 1, pauseSeconds: 0, runs: 5),
                             inputDescription: "random (seed 2)", makeInputs: RandomInput.provider(seed: 2),
                             onnxDirectory: anchors)
        let doc = try BenchSession(plan: plan).run()
        XCTAssertEqual(doc.results.map(\.runtime.name), ["litert", "onnxruntime"])
        XCTAssertEqual(doc.results.map(\.output.count), [1001, 1001])
        XCTAssertEqual(doc.results[0].output.reduce(0, +), 1, accuracy: 1e-3, "softmax probabilities")
        let agreement = try XCTUnwrap(doc.agreements.first)
        XCTAssertTrue(agreement.top1Agrees)
        XCTAssertLessThan(agreement.maxAbsDifference, 1e-4)
    }

    private static func pythonHas(_ module: String) -> Bool {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", "import \(module)"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return false }
        p.waitUntilExit()
        return p.terminationStatus == 0
    }

    func testMissingONNXModelAndPackageAreExplained() throws {
        let runner = try PeerRunner(runtime: .onnxruntime)
        XCTAssertThrowsError(try runner.modelPath(forTFLite: "/nowhere/model.tflite", onnxDirectory: "/also/not")) { error in
            XCTAssertTrue("\(error)".contains("/nowhere/model.onnx"), "\(error)")
            XCTAssertTrue("\(error)".contains("/also/not/model.onnx"), "\(error)")
        }
        // A Python path where importing onnxruntime fails: the runner says how to install it and exits 3.
        let fake = FileManager.default.temporaryDirectory.appendingPathComponent("magpie-fake-ort-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: fake, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: fake) }
        try Data("raise ImportError('simulated absence')\n".utf8).write(to: fake.appendingPathComponent("onnxruntime.py"))
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["PYTHONPATH=\(fake.path)", "python3", runner.script, "--runtime", "onnxruntime", "--model", "m.onnx",
                       "--inputs", "in.bin", "--output-file", fake.appendingPathComponent("o.bin").path]
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 3)
        XCTAssertTrue(message.contains("-m pip install onnxruntime"), message)
    }
}
