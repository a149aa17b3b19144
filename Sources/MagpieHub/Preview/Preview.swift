import Foundation
import MagpieEngine
import MagpieModel
import MagpieVision

/// "Try it": runs a stored model on a visitor's image with the same preprocessing as `magpie classify`
/// (MagpieVision's `ImageClassifier`/`ImageSegmenter`, the model's metadata normalisation, bilinear resize of the
/// whole image) and reports top-5 classes or a class map, with latencies.
///
/// Models are read once per blob (`PreviewModels`, one shared `Model` per SHA-256); each worker thread of the
/// `PreviewPool` keeps its own prepared `Interpreter` per blob.
public enum Preview {
    /// The answer of `POST .../predict` (JSON, camelCase keys).
    public struct Output: Codable, Sendable, Equatable {
        /// One ranked class.
        public struct Class: Codable, Sendable, Equatable {
            public var index: Int
            public var label: String?
            public var score: Float
        }
        /// One class present in a segmentation map, with the share of pixels it covers.
        public struct Area: Codable, Sendable, Equatable {
            public var index: Int
            public var label: String?
            public var fraction: Double
        }
        /// A segmentation map at the model's output resolution: one byte per pixel, row-major, base64
        /// (class indices above 254 are written as 255).
        public struct ClassMap: Codable, Sendable, Equatable {
            public var width: Int
            public var height: Int
            public var data: String
        }
        /// Milliseconds per stage.
        public struct Latency: Codable, Sendable, Equatable {
            /// Decoding the uploaded image.
            public var decode: Double
            /// Resizing and filling the input tensor.
            public var preprocessing: Double
            /// `invoke()`.
            public var inference: Double
            /// Top-k or argmax.
            public var postprocessing: Double
            /// Waiting for a worker.
            public var queue: Double
            /// Preparing the interpreter (0 when it was cached).
            public var prepare: Double
        }
        /// `classification` or `segmentation`.
        public var task: String
        public var imageWidth: Int
        public var imageHeight: Int
        /// Classification: the top 5.
        public var top: [Class]?
        /// Segmentation: classes present, largest first (at most 20).
        public var areas: [Area]?
        /// Segmentation: the class map.
        public var classMap: ClassMap?
        public var latencyMs: Latency
    }

    /// Why a preview could not be made; the API answers 422 with the message.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public let title: String
        public let description: String
    }

    /// A model prepared on one worker: its interpreter wrapped in the task's pipeline.
    final class Prepared {
        enum Pipeline {
            case classifier(ImageClassifier)
            case segmenter(ImageSegmenter)
        }
        let pipeline: Pipeline
        let labels: [String]?
        init(pipeline: Pipeline, labels: [String]?) {
            self.pipeline = pipeline
            self.labels = labels
        }
    }

    /// Prepares `model` for previews: an allocated interpreter, the task chosen by output 0's shape
    /// (`[1, C]` or `[C]`: classification; `[1, H, W, C]` or `[1, H, W]`: segmentation), the metadata's input
    /// normalisation and labels (`fallbackLabels` when the file has none).
    /// - Throws: `Failure` for a model that is not an image classifier or segmenter; engine errors.
    static func prepare(_ model: Model, fallbackLabels: [String]?) throws -> Prepared {
        let interpreter: Interpreter
        do {
            interpreter = try Interpreter(model: model)
            try interpreter.allocateTensors()
        } catch {
            throw Failure(title: "Model cannot run", description: "\(error)")
        }
        let normalization = (try? model.metadata())??.inputNormalization(0)
            .map { InputNormalization(mean: $0.mean, std: $0.std) }
        let labels = ((try? model.labels(forOutput: 0)) ?? nil) ?? fallbackLabels
        do {
            let shape = try interpreter.outputSpec(at: 0).shape
            switch shape.count {
            case 1, 2:
                return Prepared(pipeline: .classifier(try ImageClassifier(runner: interpreter, labels: labels,
                                                                          normalization: normalization)),
                                labels: labels)
            case 3, 4:
                return Prepared(pipeline: .segmenter(try ImageSegmenter(runner: interpreter, normalization: normalization)),
                                labels: labels)
            default:
                throw Failure(title: "Not an image model",
                              description: "try-it runs image classifiers and segmenters; output 0 has shape \(shape)")
            }
        } catch let failure as Failure {
            throw failure
        } catch {
            throw Failure(title: "Not an image model", description: "\(error)")
        }
    }

    /// Decodes `bytes` and runs the prepared model of `sha256` on it, on the calling (worker) thread.
    /// - Parameters:
    ///   - queued: how long the job waited for a worker, reported in the latencies.
    /// - Throws: `Failure` for an image that cannot be decoded (the decoder's message) or a model that does not fit.
    static func run(image bytes: [UInt8], sha256: String, path: String, fallbackLabels: [String]?,
                    models: PreviewModels, worker: PreviewWorker, queued: Duration) throws -> Output {
        let clock = ContinuousClock()
        let t0 = clock.now
        let image: RGBImage
        do {
            image = try RGBImage(decoding: bytes, limits: ImageLimits(maxSide: 16384, maxPixels: 50_000_000))
        } catch let error as ImageError {
            throw Failure(title: "Not a readable image", description: error.description)
        }
        let t1 = clock.now
        let prepared = try worker.cached(sha256) {
            try prepare(try models.model(sha256: sha256, path: path), fallbackLabels: fallbackLabels)
        }
        let t2 = clock.now
        func ms(_ d: Duration) -> Double {
            let (s, atto) = d.components
            return Double(s) * 1000 + Double(atto) / 1e15
        }
        do {
            switch prepared.pipeline {
            case let .classifier(classifier):
                let result = try classifier.classify(image, topK: 5)
                return Output(task: "classification", imageWidth: image.width, imageHeight: image.height,
                              top: result.classes.map { Output.Class(index: $0.index, label: $0.label, score: $0.score) },
                              latencyMs: Output.Latency(decode: ms(t1 - t0), preprocessing: ms(result.timings.preprocessing),
                                                        inference: ms(result.timings.inference),
                                                        postprocessing: ms(result.timings.postprocessing),
                                                        queue: ms(queued), prepare: ms(t2 - t1)))
            case let .segmenter(segmenter):
                let result = try segmenter.segment(image)
                let map = result.map
                let classCount = max(Int(map.classes.max() ?? 0) + 1, prepared.labels?.count ?? 0)
                let total = Double(max(1, map.classes.count))
                let areas = map.pixelCounts(classCount: classCount).enumerated().filter { $0.element > 0 }
                    .sorted { $0.element > $1.element }.prefix(20)
                    .map { entry in
                        Output.Area(index: entry.offset,
                                    label: prepared.labels.flatMap { entry.offset < $0.count ? $0[entry.offset] : nil },
                                    fraction: Double(entry.element) / total)
                    }
                let bytes = map.classes.map { UInt8(clamping: min(max($0, 0), 255)) }
                return Output(task: "segmentation", imageWidth: image.width, imageHeight: image.height, areas: areas,
                              classMap: Output.ClassMap(width: map.width, height: map.height,
                                                        data: Data(bytes).base64EncodedString()),
                              latencyMs: Output.Latency(decode: ms(t1 - t0), preprocessing: ms(result.timings.preprocessing),
                                                        inference: ms(result.timings.inference),
                                                        postprocessing: ms(result.timings.postprocessing),
                                                        queue: ms(queued), prepare: ms(t2 - t1)))
            }
        } catch let error as VisionError {
            throw Failure(title: "Model does not fit try-it", description: "\(error)")
        } catch let error as EngineError {
            throw Failure(title: "Model failed", description: error.description)
        }
    }
}

/// Models read for previews, one shared `Model` per blob SHA-256 (memory-mapped; the least recently used beyond
/// `capacity` is dropped, interpreters that still use it keep it alive).
public final class PreviewModels: @unchecked Sendable {
    private let lock = NSLock()
    private var entries: [(sha256: String, model: Model)] = []
    private let capacity: Int

    public init(capacity: Int = 8) { self.capacity = max(1, capacity) }

    /// The model stored at `path` under `sha256`, read once.
    func model(sha256: String, path: String) throws -> Model {
        lock.lock()
        if let i = entries.firstIndex(where: { $0.sha256 == sha256 }) {
            let entry = entries.remove(at: i)
            entries.append(entry)
            lock.unlock()
            return entry.model
        }
        lock.unlock()
        let model: Model
        do {
            model = try Model(contentsOfFile: path)
        } catch {
            throw Preview.Failure(title: "Model cannot be read", description: "\(error)")
        }
        lock.lock()
        defer { lock.unlock() }
        if let existing = entries.first(where: { $0.sha256 == sha256 }) { return existing.model }
        entries.append((sha256, model))
        if entries.count > capacity { entries.removeFirst(entries.count - capacity) }
        return model
    }
}
