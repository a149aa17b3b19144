import MagpieEngine
import MagpieModel

/// Runs a float model whose every intermediate tensor is a graph output and reports the range each output took.
///
/// The quantized built-in models get their activation ranges this way (post-training calibration), never from
/// guesses. `InterpreterCalibrator` is the one the library uses; tests can plug in another runtime (LiteRT) to
/// cross-check it.
public protocol ActivationCalibrator {
    /// Runs `model` (a float32 .tflite with one float32 input) once per element of `inputs` (each the input's
    /// elements, row-major) and returns, for every graph output in order, the smallest and largest value it held
    /// over all runs.
    func outputRanges(model: [UInt8], inputs: [[Float]]) throws -> [ClosedRange<Float>]
}

/// Calibrates with Magpie's own `Interpreter`, one thread, reference kernels by default (the arithmetic that is
/// the same on every machine, so the quantized models come out byte-identical everywhere).
public struct InterpreterCalibrator: ActivationCalibrator {
    /// Which kernels run the float model.
    public var kernels: KernelSet

    public init(kernels: KernelSet = .reference) {
        self.kernels = kernels
    }

    /// - Throws: `EngineError` when the engine cannot run the model (for example an operator it does not
    ///   support yet), `BuiltinModelError.calibrationFailed` when an output is not float32 or not finite.
    public func outputRanges(model: [UInt8], inputs: [[Float]]) throws -> [ClosedRange<Float>] {
        let loaded: Model
        do { loaded = try Model(data: model) } catch let e as ModelError { throw EngineError.model(e) }
        let interpreter = try Interpreter(model: loaded, options: .init(threadCount: 1, kernels: kernels))
        try interpreter.allocateTensors()
        let outputCount = interpreter.outputTensorCount
        for o in 0..<outputCount where try interpreter.outputInfo(at: o).type != .float32 {
            throw BuiltinModelError.calibrationFailed("output \(o) is \(try interpreter.outputInfo(at: o).type), not float32")
        }
        var low = [Float](repeating: .infinity, count: outputCount)
        var high = [Float](repeating: -.infinity, count: outputCount)
        for input in inputs {
            try interpreter.withUnsafeMutableInput(at: 0) { destination in
                guard destination.count == input.count * MemoryLayout<Float>.size else {
                    throw BuiltinModelError.calibrationFailed(
                        "the model's input holds \(destination.count / MemoryLayout<Float>.size) floats, the calibration input \(input.count)")
                }
                input.withUnsafeBytes { destination.copyMemory(from: $0) }
            }
            try interpreter.invoke()
            for o in 0..<outputCount {
                try interpreter.withUnsafeOutput(at: o) { raw in
                    let values = raw.bindMemory(to: Float.self)
                    var lo = low[o], hi = high[o], finite = true
                    for v in values {
                        lo = min(lo, v)
                        hi = max(hi, v)
                        finite = finite && v.isFinite
                    }
                    guard finite else {
                        throw BuiltinModelError.calibrationFailed("output \(o) holds a value that is not finite")
                    }
                    low[o] = lo
                    high[o] = hi
                }
            }
        }
        return (0..<outputCount).map { low[$0]...high[$0] }
    }
}

/// Why a built-in model could not be made.
public enum BuiltinModelError: Error, CustomStringConvertible, Equatable {
    /// Calibration ran but its result is unusable.
    case calibrationFailed(String)
    /// No built-in model has this name.
    case unknownModel(String)

    public var description: String {
        switch self {
        case let .calibrationFailed(reason): "calibration failed: \(reason)"
        case let .unknownModel(name): "no built-in model is called '\(name)'"
        }
    }
}
