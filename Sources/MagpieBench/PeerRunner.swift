import Foundation
import MagpieModel

/// A peer runtime (LiteRT, ONNX Runtime) run through `scripts/peer_runner.py`, with the same method and the same
/// input bytes as Magpie.
///
/// The runner is a separate process, so it does its own timing loop; it reports every sample, the loop's
/// `CLOCK_MONOTONIC` interval (for energy) and its own CPU time and peak RSS.
public struct PeerRunner: Sendable {
    /// The runtimes the runner knows.
    public enum Runtime: String, Sendable, CaseIterable {
        case litert
        case litertBuiltin = "litert-builtin"
        case litertReference = "litert-ref"
        case onnxruntime

        /// True for ONNX Runtime, which needs the model's .onnx conversion.
        public var needsONNX: Bool { self == .onnxruntime }
        /// The pip package that provides it.
        public var package: String { self == .onnxruntime ? "onnxruntime" : "ai-edge-litert" }
    }

    public var runtime: Runtime
    /// The Python interpreter (`MAGPIE_PYTHON`, else `python3` from PATH).
    public var python: String
    /// Path of peer_runner.py.
    public var script: String

    /// - Throws: `BenchError.peer` when the runner script cannot be found.
    public init(runtime: Runtime, python: String? = nil, script: String? = nil) throws {
        self.runtime = runtime
        self.python = python ?? ProcessInfo.processInfo.environment["MAGPIE_PYTHON"] ?? "python3"
        guard let found = script ?? Self.locateScript() else {
            throw BenchError.peer("scripts/peer_runner.py not found; set MAGPIE_PEER_RUNNER to its path")
        }
        self.script = found
    }

    /// `MAGPIE_PEER_RUNNER`, else `scripts/peer_runner.py` in the source checkout this binary was built from, else
    /// next to the executable's build folder (`.build/<config>/magpie` → `scripts/`).
    public static func locateScript() -> String? {
        var candidates: [String] = []
        if let env = ProcessInfo.processInfo.environment["MAGPIE_PEER_RUNNER"] { candidates.append(env) }
        if let root = MagpieBuild.sourceRoot { candidates.append(root.appendingPathComponent("scripts/peer_runner.py").path) }
        var dir = URL(fileURLWithPath: CommandLine.arguments.first ?? ".").resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<5 {
            candidates.append(dir.appendingPathComponent("scripts/peer_runner.py").path)
            dir = dir.deletingLastPathComponent()
        }
        return candidates.first { FileManager.default.fileExists(atPath: $0) }
    }

    /// Where the model for this runtime is: the .tflite itself for LiteRT; for ONNX Runtime `STEM.onnx` next to it,
    /// else in `onnxDirectory`.
    /// - Throws: `BenchError.peer` naming the places looked at.
    public func modelPath(forTFLite path: String, onnxDirectory: String?) throws -> String {
        guard runtime.needsONNX else { return path }
        let url = URL(fileURLWithPath: path)
        let stem = url.deletingPathExtension().lastPathComponent
        var places = [url.deletingLastPathComponent().appendingPathComponent(stem + ".onnx").path]
        if let onnxDirectory { places.append(URL(fileURLWithPath: onnxDirectory).appendingPathComponent(stem + ".onnx").path) }
        guard let found = places.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
            throw BenchError.peer("no ONNX model for \(url.lastPathComponent): looked for \(places.joined(separator: " and ")); "
                                  + "convert it (python -m tf2onnx.convert --tflite \(url.lastPathComponent) --output \(stem).onnx) or pass --onnx-dir")
        }
        return found
    }

    /// What the runner reports, decoded from its JSON.
    public struct Report: Decodable, Sendable {
        public var runner: String
        public var runtime: String
        public var version: String
        public var configuration: String
        public var python: String
        public var init_ns: UInt64
        public var first_ns: UInt64
        public var warmup_ns: [UInt64]
        public var samples_ns: [UInt64]
        public var loop_start_ns: UInt64
        public var loop_end_ns: UInt64
        public var user_s: Double
        public var sys_s: Double
        public var peak_rss_bytes: UInt64
        public var output_dtype: String
        public var output_shape: [Int]
    }

    /// Runs the method in the peer.
    /// - Parameters:
    ///   - model: the model file for this runtime (see `modelPath(forTFLite:onnxDirectory:)`).
    ///   - inputs: the raw input bytes Magpie prepared.
    ///   - outputQuantization: the .tflite output's quantization, to dequantize integer outputs.
    /// - Returns: the measurement and the runner's report (for version and configuration).
    /// - Throws: `BenchError.peer` with the runner's message (which says how to install a missing package).
    ///   - progress: called on the calling thread with the runner's progress reports (about every 0.2 s).
    public func measure(model: String, inputs: [Data], threads: Int, method: BenchMethod,
                        outputQuantization: QuantizationParameters?, label: String = "",
                        progress: ((BenchProgress) -> Void)? = nil) throws -> (Measurement, Report) {
        try method.validate()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("magpie-peer-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var inputPaths: [String] = []
        for (i, data) in inputs.enumerated() {
            let url = dir.appendingPathComponent("input\(i).bin")
            try data.write(to: url)
            inputPaths.append(url.path)
        }
        let outputPath = dir.appendingPathComponent("output0.bin").path
        var arguments = [python, script, "--runtime", runtime.rawValue, "--model", model, "--threads", "\(threads)",
                         "--warmup", "\(method.warmupRuns)", "--pause", "\(method.pauseSeconds)", "--runs", "\(method.runs)",
                         "--output-file", outputPath, "--inputs"] + inputPaths
        if let s = method.minimumSeconds { arguments += ["--min-seconds", "\(s)"] }
        if let s = method.durationSeconds { arguments += ["--duration", "\(s)"] }
        if progress != nil { arguments.append("--progress") }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch {
            throw BenchError.peer("cannot start \(python): \(error.localizedDescription); install Python 3 or set MAGPIE_PYTHON")
        }
        // stdout is read on another thread so that neither pipe fills up and blocks the child; stderr is read here,
        // line by line, so progress reports reach the caller on its own thread.
        let outputBox = DataBox()
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) { outputBox.data = out.fileHandleForReading.readDataToEndOfFile() }
        var messages: [String] = []
        var pending = Data()
        let plannedRuns = method.durationSeconds == nil && method.minimumSeconds == nil ? method.runs : nil
        let plannedSeconds = method.durationSeconds ?? method.minimumSeconds
        func handle(_ line: String) {
            let fields = line.split(separator: " ")
            if fields.count == 3, fields[0] == "magpie-peer-progress", let runs = Int(fields[1]), let seconds = Double(fields[2]) {
                progress?(BenchProgress(label: label, completedRuns: runs, plannedRuns: plannedRuns,
                                        elapsedSeconds: seconds, plannedSeconds: plannedSeconds))
            } else if !line.isEmpty {
                messages.append(line)
            }
        }
        while true {
            let chunk = err.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            pending.append(chunk)
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                handle(String(decoding: pending[pending.startIndex..<newline], as: UTF8.self))
                pending.removeSubrange(pending.startIndex...newline)
            }
        }
        handle(String(decoding: pending, as: UTF8.self))
        group.wait()
        process.waitUntilExit()
        let stdout = outputBox.data
        let stderr = messages.joined(separator: "\n")
        guard process.terminationStatus == 0 else {
            if process.terminationStatus == 127 {
                throw BenchError.peer("\(python) not found; install Python 3 (apt-get install python3 python3-pip) or set MAGPIE_PYTHON")
            }
            let lastLine = stderr.split(separator: "\n").last.map(String.init) ?? "exit status \(process.terminationStatus)"
            throw BenchError.peer("\(runtime.rawValue) runner failed: \(lastLine)")
        }
        let report: Report
        do { report = try JSONDecoder().decode(Report.self, from: stdout) } catch {
            throw BenchError.peer("\(runtime.rawValue) runner printed no valid result (\(error.localizedDescription)); stderr: \(stderr.prefix(300))")
        }
        guard report.runner == "magpie-peer/1", !report.samples_ns.isEmpty else {
            throw BenchError.peer("\(runtime.rawValue) runner speaks '\(report.runner)' or returned no samples")
        }
        guard let raw = FileManager.default.contents(atPath: outputPath) else {
            throw BenchError.peer("\(runtime.rawValue) runner wrote no output")
        }
        guard let type = TensorType.allCases.first(where: { $0.description == report.output_dtype }) else {
            throw BenchError.peer("\(runtime.rawValue) output type '\(report.output_dtype)' is not supported")
        }
        let scores = try raw.withUnsafeBytes {
            try Dequantize.values($0, type: type, quantization: type == .float32 ? nil : outputQuantization)
        }
        let wall = report.loop_end_ns - report.loop_start_ns
        let measurement = Measurement(
            initNanoseconds: report.init_ns, firstInferenceNanoseconds: report.first_ns,
            warmupNanoseconds: report.warmup_ns, samplesNanoseconds: report.samples_ns, loopWallNanoseconds: wall,
            loopStart: report.loop_start_ns, loopEnd: report.loop_end_ns,
            resources: ResourceFigures(userCPUSeconds: report.user_s, systemCPUSeconds: report.sys_s,
                                       wallSeconds: Double(wall) / 1e9, peakRSSBytes: report.peak_rss_bytes),
            scores: scores)
        return (measurement, report)
    }
}

/// A box the stdout reader thread fills; read only after the group has been waited for.
private final class DataBox: @unchecked Sendable {
    var data = Data()
}
