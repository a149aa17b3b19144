import Foundation
import MagpieEngine
import MagpieModel

/// Models Magpie builds itself, so that benchmarks, demos and tests need no download.
///
/// ```swift
/// print(BuiltinModels.note)
/// let bytes = try BuiltinModels.mobileNetV2(precision: .uint8)
/// let interpreter = try Interpreter(model: try Model(data: bytes))
/// ```
///
/// The architecture is the real MobileNetV2 1.0/224 (see `mobileNetV2(precision:seed:calibrator:calibrationImageCount:)`);
/// the weights are pseudo-random.
public enum BuiltinModels {
    /// What every user of these models must be told.
    public static let note = "weights are deterministic pseudo-random, NOT pretrained: predictions are meaningless"

    /// The seed the command line uses unless told otherwise ("MAGPIE" in ASCII, then 1).
    public static let defaultSeed: UInt64 = 0x4D41_4750_4945_0001

    /// Seed of the synthetic images the quantized variants are calibrated on (`SyntheticImages`).
    public static let calibrationImageSeed: UInt64 = 0xCA1B_0000_0000_0001

    /// Calibration images used unless told otherwise (the five kinds of `SyntheticImages`, then three more).
    public static let defaultCalibrationImageCount = 8

    /// Number representations of a built-in model.
    public enum Precision: String, CaseIterable, Sendable, CustomStringConvertible {
        /// float32 throughout; the input is the image normalised to (x − 127.5) / 127.5.
        case float32
        /// TF1 quantization-aware-training style: uint8 activations, per-tensor asymmetric uint8 weights, int32
        /// biases; input scale 1/128 zero point 128 (so the raw image bytes are the input), softmax output scale
        /// 1/256 zero point 0. Every operator is version 1, as in the Coral model.
        case uint8
        /// TF2 post-training-quantization style: int8 activations, symmetric per-channel int8 weights
        /// (quantized dimension 0 for CONV_2D, 3 for DEPTHWISE_CONV_2D), per-channel int32 biases. Input and
        /// output are int8, without QUANTIZE operators, so the graph keeps the 66 operators of the others: the
        /// input is scale 1/128 zero point 0 (feed each image byte minus 128, i.e. the byte xor 0x80), the softmax
        /// output scale 1/256 zero point -128.
        case int8

        public var description: String { rawValue }
    }

    /// A named entry of the catalogue the command line offers.
    public struct Entry: Sendable, Equatable {
        /// The name users type, e.g. `mobilenet_v2_1.0_224_quant`.
        public var name: String
        public var precision: Precision
        /// One line for listings.
        public var summary: String
    }

    /// The built-in models, by name.
    public static let catalog: [Entry] = [
        Entry(name: "mobilenet_v2_1.0_224", precision: .float32,
              summary: "MobileNetV2 1.0/224, float32, 1001 classes"),
        Entry(name: "mobilenet_v2_1.0_224_quant", precision: .uint8,
              summary: "MobileNetV2 1.0/224, uint8 per-tensor (TF1 QAT layout), 1001 classes"),
        Entry(name: "mobilenet_v2_1.0_224_int8", precision: .int8,
              summary: "MobileNetV2 1.0/224, int8 per-channel (TF2 PTQ layout, int8 I/O), 1001 classes"),
    ]

    /// The .tflite bytes of the catalogue entry called `name`.
    /// - Throws: `BuiltinModelError.unknownModel`, or what `mobileNetV2(precision:seed:calibrator:calibrationImageCount:)` throws.
    public static func model(named name: String, seed: UInt64 = defaultSeed) throws -> [UInt8] {
        guard let entry = catalog.first(where: { $0.name == name }) else { throw BuiltinModelError.unknownModel(name) }
        return try mobileNetV2(precision: entry.precision, seed: seed)
    }

    /// MobileNetV2 1.0/224 as .tflite bytes: input [1, 224, 224, 3], output [1, 1001] class probabilities,
    /// 66 operators (36 CONV_2D, 17 DEPTHWISE_CONV_2D, 10 ADD, AVERAGE_POOL_2D, RESHAPE, SOFTMAX),
    /// 3,489,097 parameters, 300,775,552 multiply-accumulates: the layout of the TensorFlow/Coral model.
    ///
    /// The same seed gives the same bytes every time and everywhere. The float32 model is built directly and
    /// quickly. The quantized variants are first built in float32 with every intermediate tensor as an extra graph
    /// output, run by `calibrator` on `calibrationImageCount` synthetic images (`SyntheticImages`, seed
    /// `calibrationImageSeed`), and quantized from the ranges seen: RELU6 outputs get [0, min(max, 6)], other
    /// activations [min(min, 0), max(max, 0)], average pool and reshape keep their input's parameters, and the
    /// input and softmax output have the fixed parameters `Precision` describes.
    ///
    /// Calibration costs one float inference per image (with the default reference kernels about 4–5 s per image
    /// in a debug build). To build both quantized variants, calibrate once with
    /// `mobileNetV2ActivationRanges(seed:calibrator:calibrationImageCount:)` and pass the ranges to
    /// `mobileNetV2(precision:seed:activationRanges:)`.
    ///
    /// - Parameters:
    ///   - precision: float32, uint8 or int8 (see `Precision`).
    ///   - seed: picks the weights.
    ///   - calibrator: runs the float model for the quantized variants; unused for float32.
    ///   - calibrationImageCount: how many synthetic images calibrate the quantized variants.
    /// - Throws: what the calibrator throws (with `InterpreterCalibrator`, `EngineError.unsupportedOperators` when
    ///   the engine lacks a kernel), or `BuiltinModelError.calibrationFailed`.
    public static func mobileNetV2(precision: Precision = .float32, seed: UInt64 = defaultSeed,
                                   calibrator: any ActivationCalibrator = InterpreterCalibrator(),
                                   calibrationImageCount: Int = defaultCalibrationImageCount) throws -> [UInt8] {
        ModelWriter.serialize(try mobileNetV2Definition(precision: precision, seed: seed, calibrator: calibrator,
                                                        calibrationImageCount: calibrationImageCount))
    }

    /// The model of `mobileNetV2(precision:seed:calibrator:calibrationImageCount:)` before it is written, for
    /// callers that add metadata (labels, normalisation) or associated files first.
    public static func mobileNetV2Definition(precision: Precision = .float32, seed: UInt64 = defaultSeed,
                                             calibrator: any ActivationCalibrator = InterpreterCalibrator(),
                                             calibrationImageCount: Int = defaultCalibrationImageCount) throws -> ModelDefinition {
        let net = MobileNetV2Network(seed: seed)
        guard precision != .float32 else { return emit(net, precision: .float32, seed: seed, ranges: []) }
        let ranges = try calibratedRanges(net, calibrator: calibrator, imageCount: calibrationImageCount)
        return emit(net, precision: precision, seed: seed, ranges: ranges)
    }

    /// The definition of `net` in `precision`; `ranges` (per activation, nil for the input) is unused for float32.
    static func emit(_ net: MobileNetV2Network, precision: Precision, seed: UInt64,
                     ranges: [ClosedRange<Float>?]) -> ModelDefinition {
        let description = "MobileNetV2 1.0/224 \(precision) built by Magpie, seed 0x\(String(seed, radix: 16)): \(note)"
        let parameters = precision == .float32 ? [] : activationParameters(net, precision: precision, ranges: ranges)
        return MobileNetV2Emitter.emit(net, precision: precision, activationParameters: parameters,
                                       description: description).definition
    }

    /// The calibrated range of one activation tensor.
    public struct ActivationRange: Sendable, Equatable {
        /// The tensor's name in the model.
        public var name: String
        /// Smallest and largest value seen during calibration.
        public var range: ClosedRange<Float>

        public init(name: String, range: ClosedRange<Float>) {
            self.name = name
            self.range = range
        }
    }

    /// The calibrated range of every activation of the float model except the input, in execution order, as the
    /// quantized variants use them. Calibrate once with this and pass the result to
    /// `mobileNetV2(precision:seed:activationRanges:)` to build both quantized variants.
    public static func mobileNetV2ActivationRanges(seed: UInt64 = defaultSeed,
                                                   calibrator: any ActivationCalibrator = InterpreterCalibrator(),
                                                   calibrationImageCount: Int = defaultCalibrationImageCount) throws
        -> [ActivationRange] {
        let net = MobileNetV2Network(seed: seed)
        let ranges = try calibratedRanges(net, calibrator: calibrator, imageCount: calibrationImageCount)
        return (1..<net.activations.count).map { ActivationRange(name: net.activations[$0].name, range: ranges[$0]!) }
    }

    /// MobileNetV2 in `precision` quantized with ranges calibrated earlier by
    /// `mobileNetV2ActivationRanges(seed:calibrator:calibrationImageCount:)` for the same seed.
    /// - Throws: `BuiltinModelError.calibrationFailed` when the ranges do not name this graph's activations.
    public static func mobileNetV2(precision: Precision, seed: UInt64 = defaultSeed,
                                   activationRanges: [ActivationRange]) throws -> [UInt8] {
        ModelWriter.serialize(try mobileNetV2Definition(precision: precision, seed: seed, activationRanges: activationRanges))
    }

    /// The definition of `mobileNetV2(precision:seed:activationRanges:)`, before it is written.
    public static func mobileNetV2Definition(precision: Precision, seed: UInt64 = defaultSeed,
                                             activationRanges: [ActivationRange]) throws -> ModelDefinition {
        let net = MobileNetV2Network(seed: seed)
        guard activationRanges.map(\.name) == net.activations.dropFirst().map(\.name) else {
            throw BuiltinModelError.calibrationFailed("the activation ranges do not belong to this graph")
        }
        guard activationRanges.allSatisfy({ $0.range.lowerBound.isFinite && $0.range.upperBound.isFinite }) else {
            throw BuiltinModelError.calibrationFailed("a calibrated range is not finite")
        }
        return emit(net, precision: precision, seed: seed, ranges: [nil] + activationRanges.map { Optional($0.range) })
    }

    /// The float model with every activation but the input as a graph output (the softmax output last), as the
    /// calibrator receives it.
    public static func mobileNetV2CalibrationModel(seed: UInt64 = defaultSeed) -> [UInt8] {
        ModelWriter.serialize(calibrationDefinition(MobileNetV2Network(seed: seed)))
    }

    /// The float inputs calibration runs on: synthetic images 0..<count of `calibrationImageSeed`, normalised.
    public static func calibrationInputs(count: Int = defaultCalibrationImageCount) -> [[Float]] {
        (0..<count).map { SyntheticImages.normalized(SyntheticImages.image(index: $0, seed: calibrationImageSeed)) }
    }

    /// Writes `bytes` to `path`.
    public static func write(_ bytes: [UInt8], to path: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    /// Builds MobileNetV2 in `precision` and writes it to `path`.
    public static func writeMobileNetV2(precision: Precision, seed: UInt64 = defaultSeed, to path: String) throws {
        try write(try mobileNetV2(precision: precision, seed: seed), to: path)
    }

    // MARK: Calibration

    static func calibrationDefinition(_ net: MobileNetV2Network) -> ModelDefinition {
        let emitted = MobileNetV2Emitter.emit(net, precision: .float32, activationParameters: [],
                                              description: "MobileNetV2 calibration graph (every activation is an output)")
        var definition = emitted.definition
        definition.subgraphs[0].outputs = Array(emitted.activationTensors.dropFirst())
        return definition
    }

    /// Per activation (nil for the input), the range the calibrator saw.
    static func calibratedRanges(_ net: MobileNetV2Network, calibrator: any ActivationCalibrator,
                                 imageCount: Int) throws -> [ClosedRange<Float>?] {
        guard imageCount > 0 else { throw BuiltinModelError.calibrationFailed("at least one calibration image is needed") }
        let model = ModelWriter.serialize(calibrationDefinition(net))
        let ranges = try calibrator.outputRanges(model: model, inputs: calibrationInputs(count: imageCount))
        guard ranges.count == net.activations.count - 1 else {
            throw BuiltinModelError.calibrationFailed("expected \(net.activations.count - 1) ranges, got \(ranges.count)")
        }
        guard ranges.allSatisfy({ $0.lowerBound.isFinite && $0.upperBound.isFinite }) else {
            throw BuiltinModelError.calibrationFailed("a calibrated range is not finite")
        }
        return [nil] + ranges.map { Optional($0) }
    }

    /// Quantization of every activation from the calibrated ranges (see `mobileNetV2`'s documentation).
    static func activationParameters(_ net: MobileNetV2Network, precision: Precision,
                                     ranges: [ClosedRange<Float>?]) -> [QuantizationParameters] {
        let type: TensorType = precision == .int8 ? .int8 : .uint8
        var parameters: [QuantizationParameters] = []
        for (a, activation) in net.activations.enumerated() {
            switch activation.kind {
            case .input:
                parameters.append(QuantizationParameters(scales: [1.0 / 128], zeroPoints: [type == .int8 ? 0 : 128]))
            case .softmax:
                parameters.append(QuantizationParameters(scales: [1.0 / 256], zeroPoints: [type == .int8 ? -128 : 0]))
            case let .sameAs(other):
                parameters.append(parameters[other])
            case .relu6:
                parameters.append(Quantizer.asymmetric(low: 0, high: min(ranges[a]!.upperBound, 6), type: type))
            case .linear:
                parameters.append(Quantizer.asymmetric(low: ranges[a]!.lowerBound, high: ranges[a]!.upperBound, type: type))
            }
        }
        return parameters
    }
}
