import ArgumentParser
import Foundation
import MagpieEngine
import MagpieModel

/// `magpie inspect`: what a model takes, gives and contains.
struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a model's inputs, outputs, operators and size.",
        discussion: """
            Examples:
              magpie inspect mobilenet_v2_1.0_224_quant.tflite
              magpie inspect model.tflite --json > facts.json
            """)

    @Argument(help: "The .tflite model, or builtin:mobilenet_v2[-float32|-uint8|-int8].")
    var model: String

    @Flag(help: "Print JSON instead of text.")
    var json = false

    func run() throws {
        let source = try ModelSource.load(model)
        if let note = source.note, !json { printError("note: \(note)") }
        let report = ModelReport(model: source.model, path: source.name)
        if json {
            print(try jsonString(report))
        } else {
            print(report.text)
        }
    }
}

/// The facts `magpie inspect` shows.
struct ModelReport: Encodable {
    struct TensorEntry: Encodable {
        let index: Int
        let name: String
        let dtype: String
        let shape: [Int]
        let scales: [Float]?
        let zeroPoints: [Int64]?
        let quantizedDimension: Int?
    }
    let file: String
    let sizeBytes: Int
    let schemaVersion: UInt32
    let description: String?
    let subgraphs: Int
    let inputs: [TensorEntry]
    let outputs: [TensorEntry]
    let operatorCount: Int
    let operators: [String: Int]
    let parameters: Int
    let multiplyAccumulates: Int
    let unsupported: [String]
    let metadata: MetadataEntry?
    let labelCount: Int?
    let metadataError: String?

    struct MetadataEntry: Encodable {
        let name: String?
        let description: String?
        let version: String?
        let author: String?
        let license: String?
        let inputMean: [Float]?
        let inputStd: [Float]?
        let associatedFiles: [String]
    }

    init(model: Model, path: String) {
        let g = model.mainSubgraph
        func entry(_ t: Int) -> TensorEntry {
            let d = g.tensors[t]
            return TensorEntry(index: t, name: d.name, dtype: d.type.description, shape: d.shape,
                               scales: d.quantization?.scales, zeroPoints: d.quantization?.zeroPoints,
                               quantizedDimension: d.quantization.map { $0.quantizedDimension })
        }
        file = path
        sizeBytes = model.bytes.count
        schemaVersion = model.version
        description = model.modelDescription
        subgraphs = model.subgraphs.count
        inputs = g.inputs.map(entry)
        outputs = g.outputs.map(entry)
        operatorCount = g.operators.count
        operators = g.operators.reduce(into: [:]) { $0[model.operatorCode(of: $1).displayName, default: 0] += 1 }
        let statistics = ModelStatistics(model: model)
        parameters = statistics.parameterCount
        multiplyAccumulates = statistics.multiplyAccumulateCount
        var metadataError: String?
        var labelCount: Int?
        var metadata: MetadataEntry?
        do {
            if let m = try model.metadata() {
                let files = (m.associatedFiles + m.subgraphs.flatMap { g in
                    g.associatedFiles + (g.inputTensors + g.outputTensors).flatMap(\.associatedFiles)
                }).compactMap { f in f.name.map { "\($0) (\(f.type))" } }
                let normalization = m.inputNormalization(0)
                metadata = MetadataEntry(name: m.name, description: m.description, version: m.version,
                                         author: m.author, license: m.license, inputMean: normalization?.mean,
                                         inputStd: normalization?.std, associatedFiles: files)
            }
            labelCount = try model.labels(forOutput: 0)?.count
        } catch {
            metadataError = "\(error)"
        }
        self.metadata = metadata
        self.labelCount = labelCount
        self.metadataError = metadataError
        do {
            _ = try Interpreter(model: model)
            unsupported = []
        } catch EngineError.unsupportedOperators(let list) {
            unsupported = list
        } catch {
            unsupported = ["\(error)"]
        }
    }

    var text: String {
        func line(_ t: TensorEntry) -> String {
            var s = "  [\(t.index)] \(t.name): \(t.dtype)\(t.shape)"
            if let scales = t.scales, let zps = t.zeroPoints {
                s += scales.count == 1 ? "  scale \(scales[0]) zero point \(zps.first ?? 0)"
                    : "  per-channel: \(scales.count) scales along axis \(t.quantizedDimension ?? 0)"
            }
            return s
        }
        var out = ["\(file): TFLite schema v\(schemaVersion), \(sizeBytes) bytes, \(subgraphs) subgraph(s)"]
        if let description, !description.isEmpty { out.append("description: \(description)") }
        out.append("inputs:")
        out += inputs.map(line)
        out.append("outputs:")
        out += outputs.map(line)
        out.append("parameters: \(parameters), multiply-accumulates per inference: \(multiplyAccumulates)")
        out.append("operators (\(operatorCount)):")
        out += operators.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.map { "  \($0.key) x\($0.value)" }
        if let m = metadata {
            out.append("metadata:")
            if let v = m.name { out.append("  name: \(v)") }
            if let v = m.description { out.append("  description: \(v)") }
            if let v = m.version { out.append("  version: \(v)") }
            if let v = m.author { out.append("  author: \(v)") }
            if let v = m.license { out.append("  license: \(v)") }
            if let mean = m.inputMean, let std = m.inputStd { out.append("  input normalization: (x - \(mean)) / \(std)") }
            if !m.associatedFiles.isEmpty { out.append("  associated files: " + m.associatedFiles.joined(separator: ", ")) }
        } else {
            out.append("metadata: none")
        }
        if let labelCount { out.append("labels: \(labelCount)") }
        if let metadataError { out.append("metadata error: \(metadataError)") }
        if !unsupported.isEmpty { out.append("not runnable here: " + unsupported.joined(separator: "; ")) }
        return out.joined(separator: "\n")
    }
}
