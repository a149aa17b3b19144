import ArgumentParser
import Foundation
import MagpieEngine
import MagpieModel
import MagpieVision

extension ResamplingFilter: ExpressibleByArgument {}

/// `magpie classify`: top-k classes of images, with the model's own labels.
struct Classify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Classify images with an image-classification model.",
        discussion: """
            Images are decoded (JPEG, PNG, BMP), resized to the model's input (bilinear, whole image) and normalised \
            from the model's metadata or its input quantization. Labels come from --labels or from the label file \
            stored in the model.

            Examples:
              magpie classify mobilenet_v2_1.0_224_quant.tflite parrot.jpg
              magpie classify model.tflite a.jpg b.png --top 3 --json
              magpie classify model.tflite cat.bmp --labels imagenet_labels.txt --kernels reference
              magpie classify builtin:mobilenet_v2 samples/pattern.png
            """)

    @Argument(help: "The .tflite model, or builtin:mobilenet_v2[-float32|-uint8|-int8].")
    var model: String

    @Argument(help: "Images to classify.")
    var images: [String]

    @Option(help: "A label file (one label per line, line i = class i); default: the model's own labels.")
    var labels: String?

    @Option(help: "How many classes to show per image.")
    var top: Int = 5

    @Flag(help: "Print JSON.")
    var json = false

    @Option(help: "Kernel set: reference or optimized.")
    var kernels: KernelSet = .optimized

    @Option(help: "Threads for the optimized kernels.")
    var threads: Int?

    @Option(help: "Float convolutions: float32, or bfloat16 (opt-in: faster on CPUs with AMX-BF16 or AVX512_BF16, less accurate).")
    var precision: FloatPrecision = .float32

    @Option(help: "Rounding of the quantized convolutions, MEAN and ADD: xnnpack (LiteRT's default CPU path; the optimized kernels' default) or reference (LiteRT's reference kernels, bit for bit).")
    var requantization: Requantization?

    @Option(help: "Resize filter: bilinear or nearest.")
    var resize: ResamplingFilter = .bilinear

    func validate() throws {
        if images.isEmpty { throw ValidationError("give at least one image") }
        if top < 1 { throw ValidationError("--top must be at least 1") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    struct Output: Encodable {
        struct Entry: Encodable {
            let index: Int
            let label: String?
            let score: Float
        }
        let image: String
        let top: [Entry]
        let preprocessMilliseconds: Double
        let inferenceMilliseconds: Double
    }

    func run() throws {
        let source = try ModelSource.load(model)
        if let note = source.note, !json { printError("note: \(note)") }
        let interpreter = try makeInterpreter(source.model, path: source.name, kernels: kernels, threads: threads,
                                              precision: precision, requantization: requantization)
        let labelList: [String]?
        if let labels {
            do { labelList = try Labels.load(contentsOfFile: labels) } catch { throw CommandFailure("\(labels): \(error)") }
        } else {
            labelList = (try? source.model.labels(forOutput: 0)) ?? source.labels
        }
        let normalization = (try? source.model.metadata())??.inputNormalization(0)
            .map { InputNormalization(mean: $0.mean, std: $0.std) }
        let classifier: ImageClassifier
        do {
            classifier = try ImageClassifier(runner: interpreter, labels: labelList, normalization: normalization,
                                             filter: resize)
        } catch {
            throw CommandFailure("\(source.name): \(error)")
        }
        var results: [Output] = []
        for path in images {
            let image: RGBImage
            do { image = try RGBImage(contentsOfFile: path) } catch { throw CommandFailure("\(path): \(error)") }
            let result: ImageClassification
            do { result = try classifier.classify(image, topK: top) } catch { throw CommandFailure("\(path): \(error)") }
            let entry = Output(image: path,
                               top: result.classes.map { .init(index: $0.index, label: $0.label, score: $0.score) },
                               preprocessMilliseconds: result.timings.preprocessing.milliseconds,
                               inferenceMilliseconds: result.timings.inference.milliseconds)
            results.append(entry)
            if !json {
                print("\(path) (\(image.width)x\(image.height), inference \(String(format: "%.2f", entry.inferenceMilliseconds)) ms):")
                for c in entry.top {
                    print(String(format: "  %8.5f  ", c.score) + "\(c.label ?? "class \(c.index)") [\(c.index)]")
                }
            }
        }
        if json { print(try jsonString(results)) }
    }
}

extension Duration {
    var milliseconds: Double {
        let (s, attoseconds) = components
        return Double(s) * 1000 + Double(attoseconds) / 1e15
    }
}
