import Foundation
import XCTest
import MagpieEngine
import MagpieModel
import MagpieTestSupport

/// Thousands of mutated models: every one must either run or fail with a typed error. A crash, trap or
/// out-of-bounds read ends the test process, so reaching the end is the proof.
final class ModelFuzzTests: XCTestCase {
    /// Mutants per seed model; the total over all seeds is above 10,000 when the shared models are present.
    static let mutantsPerModel = Int(ProcessInfo.processInfo.environment["MAGPIE_FUZZ_MUTANTS"] ?? "") ?? 2500

    func testMutatedSyntheticModels() throws {
        let summary = fuzz(seedModels: [("synthetic", FuzzSeeds.synthetic())], seed: 1)
        XCTAssertEqual(summary.total, Self.mutantsPerModel)
        XCTAssertGreaterThan(summary.rejected, 0, "mutations never produced a rejected model")
    }

    func testMutatedRealModels() throws {
        let names = ["split_concat.tflite", "model_invoking_error.tflite", "mobilenet_v1_0.25_128_quant.tflite"]
        let seeds = try names.map { ($0, Array(try Data(contentsOf: URL(fileURLWithPath: try TestData.model($0))))) }
        let summary = fuzz(seedModels: seeds, seed: 2)
        XCTAssertEqual(summary.total, Self.mutantsPerModel * seeds.count)
        XCTAssertGreaterThan(summary.rejected, 0)
    }

    struct Summary { var total = 0, rejected = 0, ran = 0, loadedOnly = 0 }

    func fuzz(seedModels: [(String, [UInt8])], seed: UInt64) -> Summary {
        var rng = SeededGenerator(seed: seed)
        var summary = Summary()
        for (name, original) in seedModels {
            let structure = FuzzSeeds.structureRanges(of: original)
            for n in 0..<Self.mutantsPerModel {
                let mutant = FuzzSeeds.mutate(original, structure: structure, using: &rng)
                summary.total += 1
                do {
                    let model = try Model(data: mutant)
                    let interpreter = try Interpreter(model: model, options: .init(threadCount: 1, kernels: .reference,
                                                                                    memoryLimit: 64 << 20))
                    try interpreter.allocateTensors()
                    // Running every mutant of a large model would take minutes; run a deterministic sample.
                    if original.count < 100_000 || n % 16 == 0 {
                        try interpreter.invoke()
                        for i in 0..<interpreter.outputTensorCount { _ = try interpreter.output(at: i) }
                        summary.ran += 1
                    } else {
                        summary.loadedOnly += 1
                    }
                } catch is ModelError {
                    summary.rejected += 1
                } catch is EngineError {
                    summary.rejected += 1
                } catch {
                    XCTFail("\(name) mutant \(n): untyped error \(type(of: error)): \(error)")
                }
            }
        }
        print("fuzz: \(summary.total) mutants, \(summary.rejected) rejected with typed errors, \(summary.ran) ran, \(summary.loadedOnly) prepared only")
        return summary
    }
}

/// Seed models and mutation strategies shared by the fuzz test and the libFuzzer target's corpus.
enum FuzzSeeds {
    /// A small model Magpie builds itself, so fuzzing runs even without the shared test data.
    static func synthetic() -> [UInt8] {
        var b = OpModelBuilder()
        let x = b.input("x", .uint8, [1, 4, 4, 3], quantization: .init(scales: [0.5], zeroPoints: [3]))
        let shape = b.constant("shape", .int32, [2], bytes: Bytes.of([Int32(1), 48]))
        let y = b.tensor("y", .uint8, [1, 48], quantization: .init(scales: [0.5], zeroPoints: [3]))
        b.op(.reshape, inputs: [x, shape], outputs: [y], options: .reshape(newShape: [1, 48]))
        return b.build()
    }

    /// Byte ranges that hold structure rather than bulk tensor data (buffers over 64 bytes are skipped), so most
    /// mutations hit offsets, lengths and indices.
    static func structureRanges(of bytes: [UInt8]) -> [Range<Int>] {
        guard let model = try? Model(data: bytes) else { return [0..<bytes.count] }
        let bulk = model.buffers.compactMap { $0 }.filter { $0.count > 64 }.sorted { $0.lowerBound < $1.lowerBound }
        var ranges: [Range<Int>] = []
        var start = 0
        for r in bulk {
            if r.lowerBound > start { ranges.append(start..<r.lowerBound) }
            start = max(start, r.upperBound)
        }
        if start < bytes.count { ranges.append(start..<bytes.count) }
        return ranges.isEmpty ? [0..<bytes.count] : ranges
    }

    static func mutate(_ original: [UInt8], structure: [Range<Int>], using rng: inout SeededGenerator) -> [UInt8] {
        var m = original
        func position() -> Int {
            let r = structure[Int.random(in: 0..<structure.count, using: &rng)]
            return Int.random(in: r, using: &rng)
        }
        let interesting: [UInt32] = [0, 1, 2, 3, 4, 0x7F, 0x80, 0xFF, 0xFFFF, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF,
                                     UInt32(original.count), UInt32(original.count / 2)]
        switch Int.random(in: 0..<6, using: &rng) {
        case 0:  // flip a few bits
            for _ in 0..<Int.random(in: 1...4, using: &rng) { m[position()] ^= UInt8(1 << Int.random(in: 0..<8, using: &rng)) }
        case 1:  // random bytes
            for _ in 0..<Int.random(in: 1...8, using: &rng) { m[position()] = UInt8.random(in: 0...255, using: &rng) }
        case 2:  // an interesting 32-bit word
            let p = min(position(), m.count - 4)
            if p >= 0 {
                let v = interesting[Int.random(in: 0..<interesting.count, using: &rng)]
                for k in 0..<4 { m[p + k] = UInt8(truncatingIfNeeded: v >> (8 * UInt32(k))) }
            }
        case 3:  // truncate
            m.removeLast(Int.random(in: 1...max(1, m.count - 1), using: &rng))
        case 4:  // duplicate a chunk somewhere else
            let a = position(), len = Int.random(in: 1...32, using: &rng)
            let chunk = Array(m[a..<min(m.count, a + len)])
            let b = position()
            m.replaceSubrange(b..<min(m.count, b + chunk.count), with: chunk)
        default:  // small integer arithmetic on a byte (indices off by one)
            let p = position()
            m[p] = m[p] &+ (Bool.random(using: &rng) ? 1 : 255)
        }
        return m
    }
}
