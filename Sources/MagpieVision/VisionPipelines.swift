import MagpieEngine
import MagpieModel

/// What the vision pipelines need from a model runner. `Interpreter` conforms; tests can supply a stand-in.
public protocol ImageModelRunner: AnyObject {
    /// Type, shape and quantization of input `index`.
    func inputSpec(at index: Int) throws -> TensorSpec
    /// Type, shape and quantization of output `index` (final once tensors are allocated).
    func outputSpec(at index: Int) throws -> TensorSpec
    /// Direct write access to input `index`'s bytes.
    func withUnsafeMutableInput<R>(at index: Int, _ body: (UnsafeMutableRawBufferPointer) throws -> R) throws -> R
    /// Direct read access to output `index`'s bytes.
    func withUnsafeOutput<R>(at index: Int, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R
    /// Runs the model once on the current inputs.
    func invoke() throws
}

extension Interpreter: ImageModelRunner {
    /// The spec of input `index` (see `inputInfo(at:)`).
    public func inputSpec(at index: Int) throws -> TensorSpec { TensorSpec(try inputInfo(at: index)) }
    /// The spec of output `index` (see `outputInfo(at:)`).
    public func outputSpec(at index: Int) throws -> TensorSpec { TensorSpec(try outputInfo(at: index)) }
}

/// Wall-clock time of each stage of one pipeline run.
public struct VisionTimings: Sendable, Equatable {
    /// Resizing and filling the input tensor.
    public var preprocessing: Duration
    /// `invoke()`.
    public var inference: Duration
    /// Reading the output (top-k, argmax).
    public var postprocessing: Duration

    /// The three stages together.
    public var total: Duration { preprocessing + inference + postprocessing }
}

/// Resizes `image` to input 0 of `runner` and writes it there.
///
/// - Parameters:
///   - image: the image at any size.
///   - runner: the model, tensors allocated.
///   - filter: the resampling filter.
///   - normalization: float-input normalisation (model metadata), nil for `(x - 127.5) / 127.5`.
/// - Throws: `VisionError` when input 0 is not an RGB image tensor; the runner's errors.
func loadImage(_ image: RGBImage, into runner: any ImageModelRunner, filter: ResamplingFilter,
               normalization: InputNormalization?) throws {
    let spec = try runner.inputSpec(at: 0)
    let (width, height) = try spec.imageSize()
    let resized = try image.resized(width: width, height: height, filter: filter)
    try runner.withUnsafeMutableInput(at: 0) { buffer in
        try fillInput(resized, spec: spec, normalization: normalization, into: buffer)
    }
}

/// The ranked classes of one image.
public struct ImageClassification: Sendable, Equatable {
    /// The best classes, highest score first.
    public var classes: [Classification]
    public var timings: VisionTimings
}

/// Classifies images with a model whose input 0 is `[1, H, W, 3]` and whose output 0 holds one score per class.
///
/// Not `Sendable`, like the interpreter it drives: use one per thread.
///
/// ```swift
/// let interpreter = try Interpreter(modelPath: "mobilenet_v2_1.0_224_quant.tflite")
/// try interpreter.allocateTensors()
/// let classifier = try ImageClassifier(runner: interpreter, labels: try Labels.load(contentsOfFile: "labels.txt"))
/// let result = try classifier.classify(try RGBImage(contentsOfFile: "parrot.jpg"), topK: 5)
/// ```
public final class ImageClassifier {
    /// The model.
    public let runner: any ImageModelRunner
    /// Class names by output index.
    public var labels: [String]?
    /// Float-input normalisation; nil for `(x - 127.5) / 127.5`.
    public var normalization: InputNormalization?
    /// How images are scaled to the input size.
    public var filter: ResamplingFilter

    /// Wraps an allocated model.
    ///
    /// - Parameters:
    ///   - runner: the model (an `Interpreter` after `allocateTensors()`).
    ///   - labels: class names by output index.
    ///   - normalization: float-input normalisation from metadata; nil for `(x - 127.5) / 127.5`.
    ///   - filter: how images are resized to the input size (bilinear, as the goldens).
    /// - Throws: `VisionError.unsupportedTensor` when input 0 is not an RGB image of a supported type.
    public init(runner: any ImageModelRunner, labels: [String]? = nil, normalization: InputNormalization? = nil,
                filter: ResamplingFilter = .bilinear) throws {
        let spec = try runner.inputSpec(at: 0)
        _ = try spec.imageSize()
        guard [.uint8, .int8, .float32].contains(spec.type) else {
            throw VisionError.unsupportedTensor("image input of type \(spec.type) is not supported (uint8, int8 or float32)")
        }
        self.runner = runner
        self.labels = labels
        self.normalization = normalization
        self.filter = filter
    }

    /// Resizes the image, runs the model and ranks output 0.
    ///
    /// - Parameters:
    ///   - image: the image at any size.
    ///   - k: how many classes to return.
    /// - Returns: the top `k` classes, highest score first (ties: lower index first), and stage timings.
    /// - Throws: `VisionError` for a tensor that does not fit; the runner's errors (`EngineError`).
    public func classify(_ image: RGBImage, topK k: Int = 5) throws -> ImageClassification {
        let clock = ContinuousClock()
        let t0 = clock.now
        try loadImage(image, into: runner, filter: filter, normalization: normalization)
        let t1 = clock.now
        try runner.invoke()
        let t2 = clock.now
        let spec = try runner.outputSpec(at: 0)
        let classes = try runner.withUnsafeOutput(at: 0) { try ClassificationHead.topK($0, spec: spec, k: k, labels: labels) }
        let t3 = clock.now
        return ImageClassification(classes: classes,
                                   timings: VisionTimings(preprocessing: t1 - t0, inference: t2 - t1, postprocessing: t3 - t2))
    }
}

/// The class map of one image.
public struct ImageSegmentation: Sendable, Equatable {
    /// Classes at the model's output resolution.
    public var map: SegmentationMap
    public var timings: VisionTimings

    /// The map scaled to `width` × `height` (the source image's size), nearest neighbour.
    ///
    /// - Parameters:
    ///   - width: target width.
    ///   - height: target height.
    /// - Throws: `VisionError.invalidArgument` for a non-positive size.
    public func mask(width: Int, height: Int) throws -> SegmentationMap { try map.resized(width: width, height: height) }
}

/// Segments images with a model whose input 0 is `[1, H, W, 3]` and whose output 0 is per-pixel class scores
/// `[1, H, W, C]` or class indices `[1, H, W]`.
///
/// Not `Sendable`, like the interpreter it drives: use one per thread.
public final class ImageSegmenter {
    /// The model.
    public let runner: any ImageModelRunner
    /// Float-input normalisation; nil for `(x - 127.5) / 127.5`.
    public var normalization: InputNormalization?
    /// How images are scaled to the input size.
    public var filter: ResamplingFilter

    /// Wraps an allocated model.
    ///
    /// - Parameters:
    ///   - runner: the model (an `Interpreter` after `allocateTensors()`).
    ///   - normalization: float-input normalisation from metadata; nil for `(x - 127.5) / 127.5`.
    ///   - filter: how images are resized to the input size.
    /// - Throws: `VisionError.unsupportedTensor` when input 0 is not an RGB image of a supported type.
    public init(runner: any ImageModelRunner, normalization: InputNormalization? = nil,
                filter: ResamplingFilter = .bilinear) throws {
        let spec = try runner.inputSpec(at: 0)
        _ = try spec.imageSize()
        guard [.uint8, .int8, .float32].contains(spec.type) else {
            throw VisionError.unsupportedTensor("image input of type \(spec.type) is not supported (uint8, int8 or float32)")
        }
        self.runner = runner
        self.normalization = normalization
        self.filter = filter
    }

    /// Resizes the image, runs the model and takes the class of each output pixel.
    ///
    /// - Parameter image: the image at any size.
    /// - Returns: the class map at the model's resolution (use `mask(width:height:)` for the image's) and timings.
    /// - Throws: `VisionError` for a tensor that does not fit; the runner's errors (`EngineError`).
    public func segment(_ image: RGBImage) throws -> ImageSegmentation {
        let clock = ContinuousClock()
        let t0 = clock.now
        try loadImage(image, into: runner, filter: filter, normalization: normalization)
        let t1 = clock.now
        try runner.invoke()
        let t2 = clock.now
        let spec = try runner.outputSpec(at: 0)
        let map = try runner.withUnsafeOutput(at: 0) { try SegmentationHead.classMap($0, spec: spec) }
        let t3 = clock.now
        return ImageSegmentation(map: map,
                                 timings: VisionTimings(preprocessing: t1 - t0, inference: t2 - t1, postprocessing: t3 - t2))
    }
}
