import Foundation

/// A benchmark results file: `"schema": "magpie-bench/1"`. Documented field by field in docs/benchmarking.md.
///
/// Files from different machines merge (`BenchDocument.merged`): every result carries its machine's fingerprint.
public struct BenchDocument: Codable, Sendable, Equatable {
    /// The schema identifier this version of Magpie writes and reads.
    public static let currentSchema = "magpie-bench/1"

    public var schema: String
    /// ISO 8601 time the document was written (for merged documents, the merge).
    public var created: String
    public var results: [BenchResult]
    /// Output agreement between results (same input, different model precision or runtime).
    public var agreements: [Agreement]
    /// Notes a reader should see (drift, debug build, missing energy source...).
    public var warnings: [String]

    public init(results: [BenchResult], agreements: [Agreement] = [], warnings: [String] = [], created: Date = Date()) {
        schema = Self.currentSchema
        self.created = ISO8601DateFormatter().string(from: created)
        self.results = results
        self.agreements = agreements
        self.warnings = warnings
    }

    /// Encodes as pretty JSON with sorted keys.
    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try encoder.encode(self)
    }

    /// Decodes a document and checks its schema.
    /// - Throws: `BenchError.schema` for another schema or malformed JSON, naming `source`.
    public static func decode(_ data: Data, source: String = "input") throws -> BenchDocument {
        struct Header: Decodable { var schema: String? }
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let header: Header
        do { header = try decoder.decode(Header.self, from: data) } catch {
            throw BenchError.schema("\(source): not a JSON object (\(error.localizedDescription))")
        }
        guard header.schema == currentSchema else {
            throw BenchError.schema("\(source): schema is \(header.schema.map { "'\($0)'" } ?? "missing"), expected '\(currentSchema)'")
        }
        do { return try decoder.decode(BenchDocument.self, from: data) } catch let DecodingError.keyNotFound(key, context) {
            throw BenchError.schema("\(source): missing '\(key.stringValue)' at \(context.codingPath.map(\.stringValue).joined(separator: "."))")
        } catch {
            throw BenchError.schema("\(source): \(error)")
        }
    }

    /// Reads and decodes a file.
    public static func read(contentsOfFile path: String) throws -> BenchDocument {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw BenchError.schema("cannot read '\(path)'")
        }
        return try decode(data, source: path)
    }

    /// Merges documents: results, agreements and warnings in order. Results with the same `id` from different
    /// documents are renamed `id#2`, `id#3` so that every id stays unique (agreements follow their document's renames).
    public static func merged(_ documents: [BenchDocument], created: Date = Date()) -> BenchDocument {
        var seen = Set<String>()
        var results: [BenchResult] = []
        var agreements: [Agreement] = []
        var warnings: [String] = []
        for doc in documents {
            var renames: [String: String] = [:]
            for var r in doc.results {
                var id = r.id
                var n = 2
                while seen.contains(id) { id = "\(r.id)#\(n)"; n += 1 }
                renames[r.id] = id
                r.id = id
                seen.insert(id)
                results.append(r)
            }
            for var a in doc.agreements {
                a.a = renames[a.a] ?? a.a
                a.b = renames[a.b] ?? a.b
                agreements.append(a)
            }
            for w in doc.warnings where !warnings.contains(w) { warnings.append(w) }
        }
        return BenchDocument(results: results, agreements: agreements, warnings: warnings, created: created)
    }
}

/// One measured configuration: a model, a runtime, a thread count on one machine.
public struct BenchResult: Codable, Sendable, Equatable {
    /// Unique within a document: `runtime/model/tN` (plus `/kernels` for Magpie).
    public var id: String
    public var runtime: RuntimeInfo
    public var model: ModelFacts
    public var threads: Int
    public var method: BenchMethod
    /// What the input was: `image parrot.jpg`, `random (seed 1)`, `file in.bin`.
    public var input: String
    /// Load + prepare, first inference and each warm-up inference, milliseconds.
    public var initMs: Double
    public var firstInferenceMs: Double
    public var warmupMs: [Double]
    /// Every timed inference, nanoseconds, in order.
    public var samplesNs: [UInt64]
    /// Wall time of the timed loop, seconds.
    public var loopSeconds: Double
    /// Timed inferences / loop wall time.
    public var fps: Double
    public var latency: LatencySummary
    /// Multiply-accumulates per second achieved (model MACs × fps / 1e9), when the MAC count is known.
    public var gmacPerSecond: Double?
    public var resources: ResourceFigures
    /// nil when no energy source exists (`energyNote` says why).
    public var energy: EnergyFigures?
    public var energyNote: String?
    public var drift: DriftAnalysis
    /// Sustained mode only: fps per time window.
    public var windows: [ThroughputWindow]?
    /// Top classes of the first output (index, label, dequantized score).
    public var top: [RankedClass]
    /// The dequantized first output, for agreement checks across results and files.
    public var output: [Float]
    public var profile: OperatorProfile?
    public var fingerprint: MachineFingerprint

    /// Builds a result from a measurement.
    public init(id: String, runtime: RuntimeInfo, model: ModelFacts, threads: Int, method: BenchMethod, input: String,
                measurement m: Measurement, labels: [String]?, energy: EnergyFigures?, energyNote: String?,
                fingerprint: MachineFingerprint, topCount: Int = 5) {
        precondition(!m.samplesNanoseconds.isEmpty, "a measurement has at least one sample")
        self.id = id
        self.runtime = runtime
        self.model = model
        self.threads = threads
        self.method = method
        self.input = input
        initMs = Double(m.initNanoseconds) / 1e6
        firstInferenceMs = Double(m.firstInferenceNanoseconds) / 1e6
        warmupMs = m.warmupNanoseconds.map { Double($0) / 1e6 }
        samplesNs = m.samplesNanoseconds
        loopSeconds = Double(m.loopWallNanoseconds) / 1e9
        fps = loopSeconds > 0 ? Double(m.samplesNanoseconds.count) / loopSeconds : 0
        latency = LatencySummary(nanoseconds: m.samplesNanoseconds)
        let fps = self.fps
        gmacPerSecond = model.multiplyAccumulates.map { Double($0) * fps / 1e9 }
        resources = m.resources
        self.energy = energy
        self.energyNote = energy == nil ? (energyNote ?? "n/a") : nil
        drift = DriftAnalysis(nanoseconds: m.samplesNanoseconds)
        windows = method.effectiveWindowSeconds.map { ThroughputWindow.windows(nanoseconds: m.samplesNanoseconds, seconds: $0) }
        top = RankedClass.top(m.scores, k: topCount, labels: labels)
        output = m.scores
        profile = m.profile.isEmpty ? nil : OperatorProfile(runs: m.profile)
        self.fingerprint = fingerprint
    }

    /// `magpie 0.1.0 optimized` · `mobilenet_v2_1.0_224_quant` · `t1`.
    public var shortLabel: String { "\(runtime.label) \(model.name) t\(threads)" }
}

/// Which runtime produced a result.
public struct RuntimeInfo: Codable, Sendable, Equatable {
    /// `magpie`, `litert`, `onnxruntime`.
    public var name: String
    public var version: String
    /// Runtime-specific configuration: Magpie's kernel set, LiteRT's resolver, ORT's provider.
    public var configuration: String?

    public init(name: String, version: String, configuration: String? = nil) {
        self.name = name
        self.version = version
        self.configuration = configuration
    }

    /// `magpie/optimized`, `litert/xnnpack`.
    public var label: String { configuration.map { "\(name)/\($0)" } ?? name }
}

/// What is known about a model without running it.
public struct ModelFacts: Codable, Sendable, Equatable {
    /// The file name without extension, or the built-in model's name.
    public var name: String
    /// The path it was read from (nil for built-in models).
    public var path: String?
    public var fileBytes: Int
    public var operatorCount: Int
    /// Weight and bias elements, when known (MagpieModel's `ModelStatistics`).
    public var parameters: Int?
    /// Multiply-accumulates per inference, when known.
    public var multiplyAccumulates: Int?
    /// `uint8[1, 224, 224, 3]`.
    public var inputs: [String]
    public var outputs: [String]

    public init(name: String, path: String?, fileBytes: Int, operatorCount: Int, parameters: Int?,
                multiplyAccumulates: Int?, inputs: [String], outputs: [String]) {
        self.name = name
        self.path = path
        self.fileBytes = fileBytes
        self.operatorCount = operatorCount
        self.parameters = parameters
        self.multiplyAccumulates = multiplyAccumulates
        self.inputs = inputs
        self.outputs = outputs
    }
}
