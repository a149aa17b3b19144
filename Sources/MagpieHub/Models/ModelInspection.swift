import Foundation
import MagpieEngine
import MagpieModel

/// Why an uploaded file was refused: the engine's own message (HTTP 422).
public struct ModelRejection: Error, Equatable, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ message: String) { description = message }
}

/// Reads a model file with the engine and extracts what the hub shows about it.
public enum ModelInspection {
    /// Validates the file the way `magpie run` would (reader + interpreter construction: every operator must be
    /// supported) and returns its facts.
    /// - Parameters:
    ///   - path: the (temporary) file.
    ///   - size: its size in bytes.
    /// - Throws: `ModelRejection` with the reader's or engine's message.
    public static func inspect(path: String, size: Int64) throws -> ModelFacts {
        let model: Model
        do {
            model = try Model(contentsOfFile: path)
        } catch let e as ModelError {
            if case .io = e { throw ModelRejection("cannot read the upload") }
            throw ModelRejection(e.description)
        }
        do {
            _ = try Interpreter(model: model)
        } catch let e as EngineError {
            throw ModelRejection(e.description)
        }
        return facts(of: model, size: size)
    }

    /// The facts of a model that has been read.
    public static func facts(of model: Model, size: Int64) -> ModelFacts {
        let g = model.mainSubgraph
        func tensor(_ index: Int) -> ModelFacts.TensorFacts {
            let t = g.tensors[index]
            let q = t.quantization
            return ModelFacts.TensorFacts(name: t.name, dtype: t.type.description, shape: t.shape,
                                          scale: q?.scales.first, zeroPoint: q?.zeroPoints.first,
                                          perChannel: (q?.scales.count ?? 0) > 1 ? q?.scales.count : nil)
        }
        // Parameters, MACs and the operator histogram: MagpieModel's `ModelStatistics`, summed over subgraphs
        // (the same figures as `magpie inspect`).
        var operators: [String: Int] = [:]
        var parameters: Int64 = 0
        var macs: Int64 = 0
        for index in model.subgraphs.indices {
            let statistics = ModelStatistics(model: model, subgraph: index)
            parameters += Int64(statistics.parameterCount)
            macs += Int64(statistics.multiplyAccumulateCount)
            operators.merge(statistics.operatorHistogram, uniquingKeysWith: +)
        }
        // Precision: the type holding most bytes of constant data.
        var bytesByType: [TensorType: Int] = [:]
        for subgraph in model.subgraphs {
            for t in subgraph.tensors where t.buffer > 0 && t.buffer < model.buffers.count {
                guard let range = model.buffers[t.buffer], !range.isEmpty else { continue }
                bytesByType[t.type, default: 0] += range.count
            }
        }
        let weightTypes: [TensorType] = [.float32, .float16, .int8, .uint8]
        let dominant = weightTypes.max { (bytesByType[$0] ?? 0) < (bytesByType[$1] ?? 0) }
        let precision: String
        if let dominant, (bytesByType[dominant] ?? 0) > 0 {
            precision = dominant.description
        } else {
            precision = g.inputs.first.map { g.tensors[$0].type.description } ?? "unknown"
        }
        var labels: [String]?
        var name: String?
        var description: String?
        if let metadata = try? model.metadata() {
            name = metadata.name
            description = metadata.description
        }
        labels = (try? model.labels(forOutput: 0)) ?? nil
        return ModelFacts(inputs: g.inputs.map(tensor), outputs: g.outputs.map(tensor), precision: precision,
                          operators: operators, parameters: parameters,
                          multiplyAccumulates: macs, sizeBytes: size, labels: labels,
                          metadataName: name, metadataDescription: description)
    }
}
