import Foundation
import MagpieEngine
import MagpieModel

/// A model to benchmark.
public struct BenchModel {
    /// Display name (file stem or built-in name).
    public var name: String
    public var source: MagpieTarget.Source
    /// Class labels for the first output, if known.
    public var labels: [String]?

    public init(name: String, source: MagpieTarget.Source, labels: [String]? = nil) {
        self.name = name
        self.source = source
        self.labels = labels
    }

    /// A model file; the name is the file name without extension.
    public static func file(_ path: String, labels: [String]? = nil) -> BenchModel {
        BenchModel(name: URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent, source: .file(path), labels: labels)
    }
}

/// Which engine runs a configuration.
public enum BenchRuntime: Hashable, Sendable, CustomStringConvertible {
    /// Magpie in this process, with the given kernels and float precision (`magpie-bf16`: the opt-in bfloat16).
    case magpie(KernelSet, precision: FloatPrecision = .float32)
    /// A peer through `scripts/peer_runner.py`.
    case peer(PeerRunner.Runtime)

    /// Parses `magpie`, `magpie-bf16`, `litert`, `litert-builtin`, `litert-ref`, `onnxruntime` (also `ort`).
    public init(parsing text: String, kernels: KernelSet) throws {
        switch text.lowercased() {
        case "magpie": self = .magpie(kernels)
        case "magpie-bf16":
            guard kernels == .optimized else {
                throw BenchError.invalidArgument("magpie-bf16 runs the optimized kernels; drop --kernels reference")
            }
            self = .magpie(kernels, precision: .bfloat16)
        case "ort": self = .peer(.onnxruntime)
        default:
            guard let peer = PeerRunner.Runtime(rawValue: text.lowercased()) else {
                throw BenchError.invalidArgument(
                    "unknown runtime '\(text)'; use magpie, magpie-bf16, litert, litert-builtin, litert-ref or onnxruntime")
            }
            self = .peer(peer)
        }
    }

    public var description: String {
        switch self {
        case .magpie(let k, let precision): "magpie/\(k.rawValue)" + (precision == .float32 ? "" : "-bf16")
        case .peer(let p): p.rawValue
        }
    }
}

/// How energy is obtained.
public enum EnergyMode: Sendable {
    /// RAPL or INA when the machine has them, else "n/a".
    case automatic
    /// A constant power declared by the user (`--watts`); RAPL/INA are not read.
    case declared(watts: Double)
}

/// Everything `magpie bench` runs: models × threads × runtimes, with one method and one input.
public struct BenchPlan {
    public var models: [BenchModel]
    public var threads: [Int]
    public var runtimes: [BenchRuntime]
    public var method: BenchMethod
    /// Rounds over all runtimes; each round rotates the runtime order by one, so no runtime always goes first.
    public var repeats: Int
    /// What the input is, for the report (`image parrot.jpg`).
    public var inputDescription: String
    /// Makes the raw input bytes from a model's input descriptions. Called once per model; Magpie and every peer
    /// get the same bytes.
    public var makeInputs: ([TensorDescription]) throws -> [Data]
    public var energy: EnergyMode
    /// Where `STEM.onnx` files are when they are not next to the .tflite.
    public var onnxDirectory: String?
    /// The machine's display name (default: host name).
    public var machineName: String?
    /// Parameters and multiply-accumulates of a model, when something can count them.
    public var statistics: ((Model) -> (parameters: Int, multiplyAccumulates: Int)?)?
    /// The rounding arithmetic of Magpie's quantized operators; nil: the kernel set's default (XNNPACK's for the
    /// optimized kernels, the reference's for the reference kernels).
    public var requantization: Requantization?

    public init(models: [BenchModel], threads: [Int] = [1], runtimes: [BenchRuntime] = [.magpie(.optimized)],
                method: BenchMethod = .fieldReport, repeats: Int = 1, inputDescription: String,
                makeInputs: @escaping ([TensorDescription]) throws -> [Data], energy: EnergyMode = .automatic,
                onnxDirectory: String? = nil, machineName: String? = nil,
                statistics: ((Model) -> (parameters: Int, multiplyAccumulates: Int)?)? = nil) {
        self.models = models
        self.threads = threads
        self.runtimes = runtimes
        self.method = method
        self.repeats = repeats
        self.inputDescription = inputDescription
        self.makeInputs = makeInputs
        self.energy = energy
        self.onnxDirectory = onnxDirectory
        self.machineName = machineName
        self.statistics = statistics
    }

    /// The configurations in run order: for each model and thread count, `repeats` rounds over the runtimes,
    /// round r starting at runtime r (mod count). Runtimes of one model and thread count thus run back to back,
    /// under the same conditions, and alternate.
    public var schedule: [(model: Int, threads: Int, runtime: BenchRuntime, round: Int)] {
        var out: [(Int, Int, BenchRuntime, Int)] = []
        for m in models.indices {
            for t in threads {
                for round in 0..<max(1, repeats) {
                    for k in runtimes.indices {
                        out.append((m, t, runtimes[(k + round) % runtimes.count], round))
                    }
                }
            }
        }
        return out
    }

    /// Throws when the plan cannot run.
    public func validate() throws {
        try method.validate()
        guard !models.isEmpty else { throw BenchError.invalidArgument("no model to benchmark") }
        guard !threads.isEmpty, threads.allSatisfy({ $0 >= 1 }) else { throw BenchError.invalidArgument("thread counts must be at least 1") }
        guard !runtimes.isEmpty else { throw BenchError.invalidArgument("no runtime to benchmark") }
        guard repeats >= 1 else { throw BenchError.invalidArgument("--repeat must be at least 1") }
        if case .declared(let w) = energy, !(w > 0 && w.isFinite) { throw BenchError.invalidArgument("--watts must be a positive number") }
    }
}

/// Runs a `BenchPlan` and collects a `BenchDocument`.
public final class BenchSession {
    public let plan: BenchPlan
    /// Called during in-process timed loops.
    public var progress: ((BenchProgress) -> Void)?
    /// Called with one line before each configuration starts.
    public var log: ((String) -> Void)?
    private var temporaryFiles: [URL] = []

    public init(plan: BenchPlan) { self.plan = plan }

    deinit { for url in temporaryFiles { try? FileManager.default.removeItem(at: url) } }

    /// Runs every configuration.
    /// - Throws: `BenchError` from the first configuration that fails (the message names it).
    public func run() throws -> BenchDocument {
        try plan.validate()
        let fingerprint = MachineFingerprint.current(name: plan.machineName)
        var meter: EnergyMeter?
        var energyNote: String?
        switch plan.energy {
        case .automatic:
            meter = EnergyMeter.discover()
            if meter == nil {
                energyNote = "n/a: no readable RAPL (/sys/class/powercap/*/energy_uj) or INA power rails; pass --watts W to declare a power"
            }
        case .declared: break
        }
        meter?.start(interval: 0.1)
        defer { meter?.stop() }

        struct Prepared { var model: Model; var facts: ModelFacts; var inputs: [Data]; var tflitePath: String }
        var prepared: [Int: Prepared] = [:]
        func prepare(_ index: Int) throws -> Prepared {
            if let p = prepared[index] { return p }
            let m = plan.models[index]
            let model: Model
            let path: String
            do {
                switch m.source {
                case .file(let p):
                    model = try Model(contentsOfFile: p)
                    path = p
                case .bytes(let bytes):
                    model = try Model(data: bytes)
                    // A folder of its own keeps the file's stem the model's name, so `--onnx-dir` finds NAME.onnx.
                    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("magpie-bench-\(UUID().uuidString)")
                    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
                    temporaryFiles.append(dir)
                    let url = dir.appendingPathComponent("\(m.name).tflite")
                    try Data(bytes).write(to: url)
                    path = url.path
                }
            } catch {
                throw BenchError.target("\(m.name): \(error)")
            }
            let stats = plan.statistics?(model)
            let facts = ModelFacts(
                name: m.name, path: { if case .file(let p) = m.source { return p } else { return nil } }(),
                fileBytes: model.bytes.count, operatorCount: model.mainSubgraph.operators.count,
                parameters: stats?.parameters, multiplyAccumulates: stats?.multiplyAccumulates,
                inputs: model.inputDescriptions.map(\.summary), outputs: model.outputDescriptions.map(\.summary))
            let descriptions = model.inputDescriptions
            let inputs: [Data]
            do { inputs = try plan.makeInputs(descriptions) } catch {
                throw BenchError.target("\(m.name): preparing the input failed: \(error)")
            }
            for (i, (d, data)) in zip(descriptions, inputs).enumerated() where d.byteCount != data.count {
                throw BenchError.target("\(m.name): input \(i) ('\(d.name)') needs \(d.byteCount) bytes, \(data.count) were prepared")
            }
            let p = Prepared(model: model, facts: facts, inputs: inputs, tflitePath: path)
            prepared[index] = p
            return p
        }

        var results: [BenchResult] = []
        var ids = Set<String>()
        let schedule = plan.schedule
        for (n, item) in schedule.enumerated() {
            let m = plan.models[item.model]
            let p = try prepare(item.model)
            let base = "\(item.runtime)/\(m.name)/t\(item.threads)" + (item.round > 0 ? "/r\(item.round + 1)" : "")
            var id = base
            var clash = 2
            while ids.contains(id) { id = "\(base)#\(clash)"; clash += 1 }
            ids.insert(id)
            log?("[\(n + 1)/\(schedule.count)] \(item.runtime) \(m.name) threads \(item.threads)")
            let measurement: Measurement
            let runtime: RuntimeInfo
            switch item.runtime {
            case .magpie(let kernels, let precision):
                let inputs = p.inputs
                let target = MagpieTarget(source: m.source,
                                          options: .init(threadCount: item.threads, kernels: kernels,
                                                         floatPrecision: precision,
                                                         requantization: plan.requantization),
                                          inputs: { _ in inputs })
                measurement = try plan.method.measure(target, label: id, progress: progress,
                                                      onLoopStart: { meter?.mark() }, onLoopEnd: { meter?.mark() })
                // A rounding other than the kernel set's default names itself ("optimized-reference-rounding").
                let rounding = plan.requantization.map {
                    $0 == .default(for: kernels) ? "" : "-\($0.rawValue)-rounding"
                }
                runtime = RuntimeInfo(name: "magpie", version: MagpieBuild.version,
                                      configuration: kernels.rawValue + (precision == .float32 ? "" : "-bf16")
                                          + (rounding ?? ""))
            case .peer(let peer):
                let runner = try PeerRunner(runtime: peer)
                let modelPath = try runner.modelPath(forTFLite: p.tflitePath, onnxDirectory: plan.onnxDirectory)
                let (mm, report) = try runner.measure(model: modelPath, inputs: p.inputs, threads: item.threads,
                                                      method: plan.method,
                                                      outputQuantization: p.model.outputDescriptions.first?.quantization,
                                                      label: id, progress: progress)
                meter?.mark()
                measurement = mm
                runtime = RuntimeInfo(name: peer == .onnxruntime ? "onnxruntime" : "litert", version: report.version,
                                      configuration: report.configuration)
            }
            let wall = Double(measurement.loopWallNanoseconds) / 1e9
            var energy: EnergyFigures?
            var note = energyNote
            switch plan.energy {
            case .declared(let watts):
                energy = .declared(watts: watts, wallSeconds: wall, inferences: measurement.samplesNanoseconds.count)
            case .automatic:
                if let meter {
                    do {
                        let joules = try meter.joules(from: measurement.loopStart, to: measurement.loopEnd)
                        energy = EnergyFigures(source: meter.counter.kind, detail: meter.counter.detail, joules: joules,
                                               wallSeconds: wall, inferences: measurement.samplesNanoseconds.count)
                    } catch {
                        note = "n/a: \(error)"
                    }
                }
            }
            results.append(BenchResult(id: id, runtime: runtime, model: p.facts, threads: item.threads, method: plan.method,
                                       input: plan.inputDescription, measurement: measurement, labels: m.labels,
                                       energy: energy, energyNote: note, fingerprint: fingerprint))
        }
        var warnings: [String] = []
        if !fingerprint.optimizedBuild && results.contains(where: { $0.runtime.name == "magpie" }) {
            warnings.append("this is a debug build of Magpie: its timings are not representative (build with -c release)")
        }
        for r in results where r.drift.drifting {
            warnings.append(String(format: "%@: latency drifted %+.1f%% from the first to the last quarter of the samples (p = %.2g)",
                                   r.id, r.drift.relativeChange * 100, r.drift.pValue))
        }
        return BenchDocument(results: results, agreements: Agreement.pairs(in: results), warnings: warnings)
    }
}
