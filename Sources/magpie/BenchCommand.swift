import ArgumentParser
import Foundation
import MagpieBench
import MagpieVision
import MagpieZoo
import MagpieEngine
import MagpieModel
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `magpie bench`: the field report's method on Magpie and its peers, into one report.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmark models: latency, fps, CPU, memory, energy, accuracy agreement, drift.",
        discussion: """
            The method (the field report's): load the model and input, 1 warm-up inference, sleep 1 s, then the same \
            input 250 times; fps = runs / loop time. Every sample is kept. Lists of models, thread counts and \
            runtimes run them all into one report; runtimes alternate for each model and thread count. \
            See docs/benchmarking.md for every figure and the JSON schema.

            Examples:
              magpie bench model.tflite --random-input
              magpie bench m_float.tflite m_int8.tflite --input in.bin --threads 1,2 --json result.json
              magpie bench model.tflite --random-input --runtime magpie,litert,onnxruntime --onnx-dir ../shared/anchors
              magpie bench model.tflite --random-input --duration 5m --watts 6.5
              magpie bench model.tflite --random-input --profile --profile-csv ops.csv
            """)

    @Argument(help: "The .tflite models (none: the built-in MobileNetV2 in float32, uint8 and int8).")
    var models: [String] = []

    @Option(help: "An image to classify and time (decoded and fitted to the model's input).")
    var image: String?

    @Option(name: .customLong("input"), help: "Raw bytes for each model input, in order (repeat per input).")
    var inputs: [String] = []

    @Flag(help: "Deterministic pseudo-random input instead of an image.")
    var randomInput = false

    @Option(help: "Seed for --random-input.")
    var seed: UInt64 = 1

    @Option(help: "A labels file (one class name per line) for the top-5.")
    var labels: String?

    @Option(help: "Thread counts, comma-separated (1,2,4).")
    var threads: [String] = ["1"]

    @Option(help: "Untimed warm-up inferences after the first.")
    var warmup = 1

    @Option(help: "Pause between warm-up and timing (1s, 500ms, 0).")
    var pause = "1s"

    @Option(help: "Timed inferences.")
    var runs = 250

    @Option(help: "Keep timing until at least this long has passed (and at least --runs inferences), e.g. 10s.")
    var minSeconds: String?

    @Option(help: "Sustained mode: time for this long (5m) and report fps per window.")
    var duration: String?

    @Option(help: "Window width in sustained mode (default duration / 30, at least 1s).")
    var window: String?

    @Option(help: "Repeat all runtimes this many times, rotating their order each round.")
    var `repeat` = 1

    @Option(help: "Magpie's kernel set: reference or optimized.")
    var kernels: KernelSet = .optimized

    @Option(help: "Rounding of Magpie's quantized convolutions, MEAN and ADD: xnnpack (LiteRT's default CPU path; the optimized kernels' default) or reference (LiteRT's reference kernels, bit for bit; the reference kernels' default).")
    var requantization: Requantization?

    @Option(name: .customLong("runtime"), help: "Runtimes, comma-separated: magpie, magpie-bf16 (float convolutions in bfloat16, opt-in), litert, litert-builtin, litert-ref, onnxruntime.")
    var runtimes: [String] = ["magpie"]

    @Option(help: "Directory with STEM.onnx for --runtime onnxruntime (default: next to the .tflite).")
    var onnxDir: String?

    @Option(help: "Write the results (schema magpie-bench/1) to this file; '-' for stdout. Quiet mode: no tables or progress.")
    var json: String?

    @Option(help: "Declared power in watts, used when no RAPL/INA source exists (reported as declared).")
    var watts: Double?

    @Flag(help: "Time every operator (Magpie only) after the timed loop.")
    var profile = false

    @Option(help: "Profiled inferences with --profile.")
    var profileRuns = 20

    @Option(help: "Write the profile as CSV to this file (with --profile).")
    var profileCsv: String?

    @Option(help: "Write the charts (SVG) to this directory.")
    var svg: String?

    @Option(help: "Write a one-page HTML report to this file.")
    var html: String?

    @Option(help: "The machine's name in reports (default: host name).")
    var machineName: String?

    @Option(help: "Post the results (magpie-bench/1) to a Magpie Hub model: its page http://HOST/models/OWNER/NAME or http://HOST/api/models/OWNER/NAME/benchmarks.")
    var submit: String?

    @Option(help: "Personal API token for --submit (default: MAGPIE_HUB_TOKEN).")
    var token: String?

    func validate() throws {
        let sources = [image != nil, !inputs.isEmpty, randomInput].filter { $0 }.count
        if sources > 1 { throw ValidationError("give one of --image, --input or --random-input") }
        if warmup < 0 { throw ValidationError("--warmup must be 0 or more") }
        if runs < 1 { throw ValidationError("--runs must be at least 1") }
        if `repeat` < 1 { throw ValidationError("--repeat must be at least 1") }
        if profileRuns < 1 { throw ValidationError("--profile-runs must be at least 1") }
        if let watts, !(watts > 0 && watts.isFinite) { throw ValidationError("--watts must be a positive number") }
        if profileCsv != nil && !profile { throw ValidationError("--profile-csv needs --profile") }
        if let submit {
            _ = try BenchSubmission.endpoint(submit)
            guard BenchSubmission.token(token) != nil else { throw ValidationError("--submit needs --token or MAGPIE_HUB_TOKEN") }
        }
    }

    func run() throws {
        do {
            try execute()
        } catch let e as BenchError {
            throw CommandFailure(e.description)
        }
    }

    private func execute() throws {
        let method = BenchMethod(warmupRuns: warmup, pauseSeconds: try BenchArguments.seconds(pause), runs: runs,
                                 minimumSeconds: try minSeconds.map(BenchArguments.seconds),
                                 durationSeconds: try duration.map(BenchArguments.seconds),
                                 windowSeconds: try window.map(BenchArguments.seconds),
                                 profileRuns: profile ? profileRuns : 0)
        let runtimeList = try BenchArguments.list(runtimes).map { try BenchRuntime(parsing: $0, kernels: kernels) }
        let labelList = try labels.map(readLabels)
        let benchModels = models.isEmpty ? try builtinModels() : models.map { BenchModel.file($0, labels: labelList) }
        for case .file(let path) in benchModels.map(\.source) where !FileManager.default.fileExists(atPath: path) {
            throw CommandFailure("cannot read model '\(path)'")
        }
        let (inputDescription, makeInputs) = try inputSource()
        var plan = BenchPlan(models: benchModels, threads: try BenchArguments.threads(threads), runtimes: runtimeList,
                             method: method, repeats: `repeat`, inputDescription: inputDescription, makeInputs: makeInputs,
                             energy: watts.map { .declared(watts: $0) } ?? .automatic, onnxDirectory: onnxDir,
                             machineName: machineName, statistics: { model in
                                 let s = ModelStatistics(model: model)
                                 return (s.parameterCount, s.multiplyAccumulateCount)
                             })
        plan.requantization = requantization
        let quiet = json != nil
        let session = BenchSession(plan: plan)
        let line = ProgressLine(enabled: !quiet && isatty(STDERR_FILENO) == 1)
        if !quiet {
            session.log = { message in line.finish(); printError(message) }
            session.progress = { line.show($0) }
        }
        let document = try session.run()
        line.finish()

        if let json {
            let data = try document.jsonData()
            if json == "-" {
                FileHandle.standardOutput.write(data)
                FileHandle.standardOutput.write(Data("\n".utf8))
            } else {
                try write(data, to: json)
            }
        }
        if let submit {
            let count = try BenchSubmission.post(try document.jsonData(), to: try BenchSubmission.endpoint(submit),
                                                 token: BenchSubmission.token(token) ?? "")
            printError("submitted \(count) result\(count == 1 ? "" : "s") to \(submit)")
        }
        let report = BenchReport(document: document)
        if let svg { _ = try report.writeCharts(to: svg) }
        if let html { try write(Data(report.html.utf8), to: html) }
        if let profileCsv {
            let csv = document.results.compactMap { r in r.profile.map { "# \(r.id)\n" + $0.csv } }.joined(separator: "\n")
            try write(Data(csv.utf8), to: profileCsv)
        }
        guard !quiet else { return }
        print(report.text)
        for r in document.results {
            if let p = r.profile { print("\nprofile of \(r.id):\n" + p.table()) }
        }
    }

    /// The input bytes every runtime gets.
    private func inputSource() throws -> (String, ([TensorDescription]) throws -> [Data]) {
        if randomInput { return ("random (seed \(seed))", RandomInput.provider(seed: seed)) }
        if image != nil || inputs.isEmpty {
            // The report's method times one image; without --image, a synthetic one Magpie draws itself.
            let picture: RGBImage
            let description: String
            if let image {
                do { picture = try RGBImage(contentsOfFile: image) } catch { throw CommandFailure("\(image): \(error)") }
                description = "image \(URL(fileURLWithPath: image).lastPathComponent)"
            } else {
                picture = RGBImage(width: 224, height: 224,
                                   pixels: SyntheticImages.image(index: 0, seed: BuiltinModels.calibrationImageSeed))
                description = "synthetic image (no --image given)"
            }
            return (description, { descriptions in
                try descriptions.map { d in
                    let spec = TensorSpec(type: d.type, shape: d.shape, quantization: d.quantization)
                    let width: Int, height: Int
                    do {
                        (width, height) = try spec.imageSize()
                    } catch {
                        throw CommandFailure("input '\(d.name)' \(d.type)\(d.shape) is not an RGB image: give --input RAW.bin or --random-input")
                    }
                    let fitted = try picture.resized(width: width, height: height, filter: .bilinear)
                    var data = Data(count: d.elementCount * (d.type.byteSize ?? 1))
                    try data.withUnsafeMutableBytes { try fillInput(fitted, spec: spec, into: $0) }
                    return data
                }
            })
        }
        let files = try inputs.map { path -> Data in
            guard let data = FileManager.default.contents(atPath: path) else { throw CommandFailure("cannot read input file '\(path)'") }
            return data
        }
        let names = inputs.map { URL(fileURLWithPath: $0).lastPathComponent }.joined(separator: ", ")
        return ("file \(names)", { descriptions in
            guard descriptions.count == files.count else {
                throw BenchError.invalidArgument("the model has \(descriptions.count) inputs but \(files.count) --input files were given")
            }
            return files
        })
    }

    /// The built-in models benchmarked when no MODEL is given.
    private func builtinModels() throws -> [BenchModel] {
        if json == nil { printError("note: no model given: the built-in MobileNetV2 in float32, uint8 and int8; \(BuiltinModels.note)") }
        return try ModelSource.builtinVariants().map { BenchModel(name: $0.name, source: .bytes($0.bytes)) }
    }

    private func readLabels(_ path: String) throws -> [String] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw CommandFailure("cannot read labels file '\(path)'")
        }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        while lines.last == "" { lines.removeLast() }
        return lines
    }
}

/// Writes `data` to `path` atomically, as a one-line failure when it cannot.
func write(_ data: Data, to path: String) throws {
    do {
        try data.write(to: URL(fileURLWithPath: path), options: .atomic)
    } catch {
        throw CommandFailure("cannot write '\(path)': \(error.localizedDescription)")
    }
}

/// A self-overwriting progress line on a terminal, shown only for loops that run longer than a second.
final class ProgressLine: @unchecked Sendable {
    private let enabled: Bool
    private var visible = false

    init(enabled: Bool) { self.enabled = enabled }

    func show(_ p: BenchProgress) {
        guard enabled, p.elapsedSeconds >= 1 else { return }
        let width = 24
        let filled = Int(p.fraction * Double(width))
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        let runs = p.plannedRuns.map { "\(p.completedRuns)/\($0) runs" } ?? "\(p.completedRuns) runs"
        let time = p.plannedSeconds.map { String(format: "%.1f/%.1f s", p.elapsedSeconds, $0) } ?? String(format: "%.1f s", p.elapsedSeconds)
        FileHandle.standardError.write(Data("\r\u{1B}[2K\(p.label) [\(bar)] \(runs) \(time)".utf8))
        visible = true
    }

    func finish() {
        guard visible else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8))
        visible = false
    }
}
