import MagpieModel

/// Why the interpreter could not prepare or run a model.
public enum EngineError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The model file itself is bad (see `ModelError`).
    case model(ModelError)
    /// Operators the engine cannot run; every one in the model is listed, e.g. `custom op 'fake-op-double' is not supported`.
    case unsupportedOperators([String])
    /// An operator's inputs, outputs or options are inconsistent (shape, type, quantization).
    case invalidOperator(index: Int, op: String, reason: String)
    /// An index passed to the API is out of range.
    case invalidTensorIndex(Int, count: Int)
    /// Data of the wrong size or a bad shape was given to the API.
    case invalidArgument(String)
    /// `invoke()` or a tensor read came before `allocateTensors()`.
    case tensorsNotAllocated
    /// An operator failed while running (for example an index out of range in GATHER).
    case runtime(index: Int, op: String, reason: String)

    public var description: String {
        switch self {
        case let .model(e): return e.description
        case let .unsupportedOperators(list): return list.joined(separator: "; ")
        case let .invalidOperator(i, op, reason): return "operator \(i) (\(op)): \(reason)"
        case let .invalidTensorIndex(i, count): return "tensor index \(i) out of range 0..<\(count)"
        case let .invalidArgument(s): return s
        case .tensorsNotAllocated: return "allocateTensors() must be called before using tensors"
        case let .runtime(i, op, reason): return "operator \(i) (\(op)) failed: \(reason)"
        }
    }
}

/// The error a kernel throws from `prepare`; the interpreter adds the operator's index and name.
struct KernelError: Error {
    let reason: String
    init(_ reason: String) { self.reason = reason }
}
