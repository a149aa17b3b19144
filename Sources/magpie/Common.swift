import ArgumentParser
import Foundation
import MagpieEngine
import MagpieModel

/// A failure the command line reports as one line on stderr, with a non-zero exit status.
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}

extension KernelSet: ExpressibleByArgument {}
extension FloatPrecision: ExpressibleByArgument {}
extension Requantization: ExpressibleByArgument {}

/// Loads a model, turning the engine's typed errors into one-line messages that name the file.
func loadModel(_ path: String) throws -> Model {
    do {
        return try Model(contentsOfFile: path)
    } catch let e as ModelError {
        if case .io = e { throw CommandFailure(e.description) }
        throw CommandFailure("\(path): \(e)")
    }
}

/// Creates an interpreter with the requested kernels, threads, float precision and quantized rounding.
func makeInterpreter(_ model: Model, path: String, kernels: KernelSet, threads: Int?,
                     precision: FloatPrecision = .float32, requantization: Requantization? = nil) throws -> Interpreter {
    do {
        let interpreter = try Interpreter(model: model, options: .init(threadCount: threads, kernels: kernels,
                                                                       floatPrecision: precision,
                                                                       requantization: requantization))
        try interpreter.allocateTensors()
        return interpreter
    } catch let e as EngineError {
        throw CommandFailure("\(path): \(e)")
    }
}

/// Writes `text` to standard error.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// JSON encoding with stable key order.
func jsonString<T: Encodable>(_ value: T) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    return String(decoding: try encoder.encode(value), as: UTF8.self)
}

extension TensorInfo {
    /// `uint8[1, 224, 224, 3] q(scale 0.0078125, zp 128)`.
    var summary: String {
        var s = "\(type)[\(shape.map(String.init).joined(separator: ", "))]"
        if let q = quantization {
            s += q.isPerChannel ? " q(per-channel x\(q.scales.count), axis \(q.quantizedDimension))"
                : " q(scale \(q.scale), zp \(q.zeroPoint))"
        }
        return s
    }
}
