import Foundation
import MagpieModel

/// One class of a classification result.
public struct Classification: Sendable, Equatable {
    /// Index into the model's output vector.
    public var index: Int
    /// The (dequantized) score.
    public var score: Float
    /// `labels[index]` when labels were given and long enough.
    public var label: String?

    /// Creates a result entry.
    ///
    /// - Parameters:
    ///   - index: class index.
    ///   - score: the class's score.
    ///   - label: its name, if known.
    public init(index: Int, score: Float, label: String? = nil) {
        self.index = index
        self.score = score
        self.label = label
    }
}

/// Turns a classification model's output tensor into ranked classes.
public enum ClassificationHead {
    /// Reads a tensor's values as real numbers.
    ///
    /// Quantized values become `(q - zeroPoint) * scale`; float values are returned as they are; integer
    /// tensors without quantization are converted as they are.
    ///
    /// - Parameters:
    ///   - bytes: the tensor's data, little-endian, row-major.
    ///   - spec: its type, shape and quantization.
    /// - Returns: one value per element.
    /// - Throws: `VisionError.unsupportedTensor` for a type other than float32, uint8, int8, int16, int32
    ///   or per-channel quantization; `VisionError.invalidArgument` when the byte count does not match the shape.
    public static func dequantize(_ bytes: UnsafeRawBufferPointer, spec: TensorSpec) throws -> [Float] {
        guard let count = spec.elementCount else {
            throw VisionError.invalidArgument("invalid shape \(spec.shape)")
        }
        let size: Int
        switch spec.type {
        case .float32, .int32: size = 4
        case .int16: size = 2
        case .uint8, .int8: size = 1
        default: throw VisionError.unsupportedTensor("cannot read scores of type \(spec.type)")
        }
        guard bytes.count == count * size else {
            throw VisionError.invalidArgument("tensor of shape \(spec.shape) and type \(spec.type) needs \(count * size) bytes, got \(bytes.count)")
        }
        if spec.type == .float32 {
            return (0..<count).map { bytes.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self) }
        }
        let raw: (Int) -> Int
        switch spec.type {
        case .uint8: raw = { Int(bytes[$0]) }
        case .int8: raw = { Int(Int8(bitPattern: bytes[$0])) }
        case .int16: raw = { Int(bytes.loadUnaligned(fromByteOffset: $0 * 2, as: Int16.self)) }
        default: raw = { Int(bytes.loadUnaligned(fromByteOffset: $0 * 4, as: Int32.self)) }
        }
        guard let (scale, zeroPoint) = try spec.perTensorQuantization() else {
            return (0..<count).map { Float(raw($0)) }
        }
        return (0..<count).map { Float(raw($0) - zeroPoint) * scale }
    }

    /// The `k` highest scores, highest first; equal scores keep index order (lower index first) and NaN
    /// ranks last.
    ///
    /// - Parameters:
    ///   - scores: one score per class.
    ///   - k: how many to return (fewer when there are fewer classes; none when `k <= 0`).
    ///   - labels: class names by index, optional.
    /// - Returns: up to `k` entries.
    public static func topK(_ scores: [Float], k: Int, labels: [String]? = nil) -> [Classification] {
        guard k > 0, !scores.isEmpty else { return [] }
        // Strict weak order: non-NaN before NaN, then higher score, then lower index.
        func before(_ a: Int, _ b: Int) -> Bool {
            let x = scores[a], y = scores[b]
            if x.isNaN != y.isNaN { return y.isNaN }
            if !x.isNaN, x != y { return x > y }
            return a < b
        }
        let chosen: [Int]
        if k >= scores.count {
            chosen = scores.indices.sorted(by: before)
        } else {
            // Keep a sorted list of the best k seen so far; k is small next to the class count.
            var best: [Int] = []
            best.reserveCapacity(k + 1)
            for i in scores.indices {
                if best.count == k, !before(i, best[k - 1]) { continue }
                var position = best.count
                while position > 0, before(i, best[position - 1]) { position -= 1 }
                best.insert(i, at: position)
                if best.count > k { best.removeLast() }
            }
            chosen = best
        }
        return chosen.map { i in
            Classification(index: i, score: scores[i], label: labels.flatMap { i < $0.count ? $0[i] : nil })
        }
    }

    /// The `k` best classes of an output tensor (dequantized), highest first, ties by lower index.
    ///
    /// - Parameters:
    ///   - bytes: the output tensor's data, `[1, classes]` or any shape (all elements are classes).
    ///   - spec: its type, shape and quantization.
    ///   - k: how many classes to return.
    ///   - labels: class names by index, optional.
    /// - Returns: up to `k` entries.
    /// - Throws: the errors of `dequantize(_:spec:)`.
    public static func topK(_ bytes: UnsafeRawBufferPointer, spec: TensorSpec, k: Int,
                            labels: [String]? = nil) throws -> [Classification] {
        topK(try dequantize(bytes, spec: spec), k: k, labels: labels)
    }
}

/// Class names, one per line.
public enum Labels {
    /// Reads a label file: one name per line, index = line number; trailing blank lines are dropped and
    /// `\r\n` line ends are accepted.
    ///
    /// - Parameter path: the label file.
    /// - Returns: the names in order.
    /// - Throws: `VisionError.unreadableFile` when the file cannot be read.
    public static func load(contentsOfFile path: String) throws -> [String] {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw VisionError.unreadableFile(path: path, reason: error.localizedDescription)
        }
        return parse(String(decoding: data, as: UTF8.self))
    }

    /// Splits label-file text into names.
    ///
    /// - Parameter text: the file's contents.
    /// - Returns: one name per line, without trailing blank lines.
    public static func parse(_ text: String) -> [String] {
        // "\r\n" is one Character in Swift, and a newline.
        var lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).map(String.init)
        while let last = lines.last, last.trimmingCharacters(in: .whitespaces).isEmpty { lines.removeLast() }
        return lines
    }
}
