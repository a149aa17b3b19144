import ArgumentParser
import Foundation
import MagpieEngine
import MagpieModel

/// `magpie run`: raw tensor bytes in, raw tensor bytes out, for conformance harnesses and fuzzers.
struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a model on raw input tensors and write raw output tensors.",
        discussion: """
            Tensors are raw bytes: little-endian, row-major, in the model's own types and shapes \
            (see `magpie inspect`). Without --output, a summary of each output is printed.

            Examples:
              magpie run model.tflite --input in0.bin --output out0.bin
              magpie run model.tflite --random-input --seed 7 --kernels reference
              magpie run model.tflite --input a.bin --input b.bin --output x.bin --output y.bin --threads 2
            """)

    @Argument(help: "The .tflite model, or builtin:mobilenet_v2[-float32|-uint8|-int8].")
    var model: String

    @Option(name: .customLong("input"), help: "Raw bytes for each model input, in order (repeat per input).")
    var inputs: [String] = []

    @Flag(help: "Fill every input with deterministic pseudo-random values instead of --input files.")
    var randomInput = false

    @Option(help: "Seed for --random-input.")
    var seed: UInt64 = 1

    @Option(name: .customLong("output"), help: "Where to write each output's raw bytes, in order (repeat per output).")
    var outputs: [String] = []

    @Option(help: "Kernel set: reference (the spec) or optimized.")
    var kernels: KernelSet = .optimized

    @Option(help: "Threads for the optimized kernels.")
    var threads: Int?

    @Option(help: "Float convolutions: float32, or bfloat16 (opt-in: faster on CPUs with AMX-BF16 or AVX512_BF16, less accurate).")
    var precision: FloatPrecision = .float32

    @Option(help: "Rounding of the quantized convolutions, MEAN and ADD: xnnpack (LiteRT's default CPU path; the optimized kernels' default) or reference (LiteRT's reference kernels, bit for bit).")
    var requantization: Requantization?

    func validate() throws {
        if randomInput == !inputs.isEmpty {
            throw ValidationError("give either --input FILE for each model input or --random-input")
        }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    func run() throws {
        let source = try ModelSource.load(model)
        let interpreter = try makeInterpreter(source.model, path: source.name, kernels: kernels, threads: threads,
                                              precision: precision, requantization: requantization)
        if randomInput {
            var generator = RandomInputGenerator(seed: seed)
            for i in 0..<interpreter.inputTensorCount {
                let info = try interpreter.inputInfo(at: i)
                try interpreter.withUnsafeMutableInput(at: i) { generator.fill($0, type: info.type) }
            }
        } else {
            guard inputs.count == interpreter.inputTensorCount else {
                throw CommandFailure("\(model) has \(interpreter.inputTensorCount) inputs but \(inputs.count) --input files were given")
            }
            for (i, path) in inputs.enumerated() {
                guard let data = FileManager.default.contents(atPath: path) else {
                    throw CommandFailure("cannot read input file '\(path)'")
                }
                let info = try interpreter.inputInfo(at: i)
                guard data.count == info.byteCount else {
                    throw CommandFailure("input \(i) ('\(info.name)') needs \(info.byteCount) bytes for \(info.summary), '\(path)' has \(data.count)")
                }
                try interpreter.copy(data, toInputAt: i)
            }
        }
        do {
            try interpreter.invoke()
        } catch let e as EngineError {
            throw CommandFailure("\(model): \(e)")
        }
        if !outputs.isEmpty && outputs.count != interpreter.outputTensorCount {
            throw CommandFailure("\(model) has \(interpreter.outputTensorCount) outputs but \(outputs.count) --output files were given")
        }
        for i in 0..<interpreter.outputTensorCount {
            let tensor = try interpreter.output(at: i)
            if outputs.isEmpty {
                let info = try interpreter.outputInfo(at: i)
                print("output \(i) '\(info.name)': \(info.summary), \(tensor.data.count) bytes")
            } else {
                do {
                    try tensor.data.write(to: URL(fileURLWithPath: outputs[i]), options: .atomic)
                } catch {
                    throw CommandFailure("cannot write '\(outputs[i])': \(error.localizedDescription)")
                }
            }
        }
    }
}

/// Deterministic input filler: uniform over the type's range (floats in [-1, 1]).
struct RandomInputGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func fill(_ buffer: UnsafeMutableRawBufferPointer, type: TensorType) {
        switch type {
        case .float32:
            let f = buffer.bindMemory(to: Float.self)
            for i in f.indices { f[i] = Float(next() >> 40) / Float(1 << 24) * 2 - 1 }
        case .bool:
            for i in buffer.indices { buffer[i] = UInt8(next() & 1) }
        default:
            for i in buffer.indices { buffer[i] = UInt8(truncatingIfNeeded: next()) }
        }
    }
}
