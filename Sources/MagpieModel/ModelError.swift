/// Why a model could not be read, validated or written.
///
/// Every failure of the reader is one of these; the reader never traps on bad input.
public enum ModelError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file could not be opened, mapped or read.
    case io(path: String, reason: String)
    /// The file is too small or a structure runs past the end of the data.
    case truncated(String)
    /// The file is not a TFLite flatbuffer (wrong identifier or root).
    case notTFLite(String)
    /// The schema version is one this reader does not understand.
    case unsupportedSchemaVersion(UInt32)
    /// A flatbuffer offset, length or table is malformed.
    case malformed(String)
    /// An index (tensor, buffer, operator code, subgraph) is out of range.
    case badIndex(what: String, index: Int, count: Int)
    /// A tensor's shape, type or data size is inconsistent.
    case invalidTensor(String)
    /// Operators in the model that this engine cannot run; every one of them is listed.
    case unsupportedOperators([String])
    /// The model is valid but uses something this engine does not handle.
    case unsupported(String)

    public var description: String {
        switch self {
        case let .io(path, reason): return "cannot read '\(path)': \(reason)"
        case let .truncated(what): return "truncated model: \(what)"
        case let .notTFLite(why): return "not a TFLite model: \(why)"
        case let .unsupportedSchemaVersion(v): return "unsupported TFLite schema version \(v) (expected 3)"
        case let .malformed(what): return "malformed model: \(what)"
        case let .badIndex(what, index, count): return "malformed model: \(what) index \(index) out of range 0..<\(count)"
        case let .invalidTensor(what): return "invalid tensor: \(what)"
        case let .unsupportedOperators(ops): return ops.joined(separator: "; ")
        case let .unsupported(what): return "unsupported: \(what)"
        }
    }
}
