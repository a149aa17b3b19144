/// Why a pre- or post-processing step could not run (a tensor that does not fit, a bad argument).
public enum VisionError: Error, Equatable, Sendable, CustomStringConvertible {
    /// An argument is out of range or inconsistent, e.g. a target size of zero or a buffer of the wrong size.
    case invalidArgument(String)
    /// The model's tensor has a type or shape this step does not handle.
    case unsupportedTensor(String)
    /// A file (labels) could not be read.
    case unreadableFile(path: String, reason: String)

    public var description: String {
        switch self {
        case let .invalidArgument(s): return s
        case let .unsupportedTensor(s): return s
        case let .unreadableFile(path, reason): return "cannot read '\(path)': \(reason)"
        }
    }
}
