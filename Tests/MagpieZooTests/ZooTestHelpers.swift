import Foundation
import MagpieModel
import MagpieTestSupport
import MagpieZoo
import XCTest

/// Calibrates through LiteRT's reference kernels (python), so the quantized variants can be built and checked
/// without Magpie's own kernels, and Magpie's calibration can be cross-checked against LiteRT's.
/// Results are cached per model and input count for the test process, since both quantized variants calibrate
/// the same float graph.
struct LiteRTCalibrator: ActivationCalibrator {
    nonisolated(unsafe) private static var cache: [String: [ClosedRange<Float>]] = [:]
    private static let lock = NSLock()
    /// False runs LiteRT every time.
    var cached = true

    func outputRanges(model: [UInt8], inputs: [[Float]]) throws -> [ClosedRange<Float>] {
        guard cached else { return try uncachedRanges(model: model, inputs: inputs) }
        let key = "\(crc32(model))-\(model.count)-\(inputs.count)-\(inputs.map { crc32(Bytes.of($0)) })"
        Self.lock.lock(); defer { Self.lock.unlock() }
        if let cached = Self.cache[key] { return cached }
        let ranges = try uncachedRanges(model: model, inputs: inputs)
        Self.cache[key] = ranges
        return ranges
    }

    private func uncachedRanges(model: [UInt8], inputs: [[Float]]) throws -> [ClosedRange<Float>] {
        let outputCount = try Model(data: model).mainSubgraph.outputs.count
        var low = [Float](repeating: .infinity, count: outputCount)
        var high = [Float](repeating: -.infinity, count: outputCount)
        for input in inputs {
            guard case let .outputs(outputs) = try LiteRTReference.run(model: model, inputs: [Bytes.of(input)],
                                                                      outputCount: outputCount) else {
                throw BuiltinModelError.calibrationFailed("LiteRT refused the calibration model")
            }
            for (o, bytes) in outputs.enumerated() {
                bytes.withUnsafeBytes { raw in
                    for v in raw.bindMemory(to: Float.self) {
                        low[o] = min(low[o], v)
                        high[o] = max(high[o], v)
                    }
                }
            }
        }
        return (0..<outputCount).map { low[$0]...high[$0] }
    }
}

/// Skips unless python3 with ai-edge-litert is available.
func requireLiteRT(file: StaticString = #filePath, line: UInt = #line) throws {
    if let reason = LiteRTReference.unavailableReason { throw XCTSkip(reason, file: file, line: line) }
}

/// Runs `model` in LiteRT's reference kernels on one input; returns the single output's bytes.
func runInLiteRT(_ model: [UInt8], input: [UInt8]) throws -> [UInt8] {
    switch try LiteRTReference.run(model: model, inputs: [input], outputCount: 1) {
    case let .outputs(outputs): return outputs[0]
    case let .refused(message): throw BuiltinModelError.calibrationFailed("LiteRT refused the model: \(message)")
    }
}

/// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), to fingerprint model bytes.
func crc32(_ bytes: [UInt8]) -> UInt32 {
    var table = [UInt32](repeating: 0, count: 256)
    for i in 0..<256 {
        var c = UInt32(i)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        table[i] = c
    }
    var crc: UInt32 = 0xFFFF_FFFF
    for b in bytes { crc = table[Int((crc ^ UInt32(b)) & 0xFF)] ^ (crc >> 8) }
    return crc ^ 0xFFFF_FFFF
}

/// Index of the largest value, and every index that ties with it.
func argmaxes<T: Comparable>(_ values: [T]) -> (first: Int, all: [Int]) {
    let best = values.max()!
    let all = values.indices.filter { values[$0] == best }
    return (all[0], all)
}

/// Builds the quantized variants once per test process with the LiteRT calibrator (python runs are slow).
enum LiteRTCalibrated {
    nonisolated(unsafe) static var cache: [BuiltinModels.Precision: [UInt8]] = [:]
    static let lock = NSLock()

    static func model(_ precision: BuiltinModels.Precision) throws -> [UInt8] {
        lock.lock(); defer { lock.unlock() }
        if let bytes = cache[precision] { return bytes }
        let bytes = try BuiltinModels.mobileNetV2(precision: precision, calibrator: LiteRTCalibrator())
        cache[precision] = bytes
        return bytes
    }
}
