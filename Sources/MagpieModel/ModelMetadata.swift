/// The TFLite Support metadata of a model: the `TFLITE_METADATA` entry, a flatbuffer with file identifier "M001"
/// (schema `metadata_schema.fbs` of tflite-support, read up to schema version 1.5.0).
///
/// It says what the model is, how to prepare its inputs (normalisation, colour space) and how to read its outputs
/// (label files, score calibration). The files it names are stored in a zip archive appended to the model; see
/// `Model.labels(forOutput:locale:)` and `Model.associatedFilesArchive()`.
///
/// Union members this reader does not know (from newer schemas) are skipped rather than rejected; enum values it does
/// not know are kept as raw values.
public struct ModelMetadata: Sendable, Equatable {
    /// The name of the `Model.metadata` entry that holds this flatbuffer.
    public static let metadataName = "TFLITE_METADATA"
    /// The flatbuffer's file identifier.
    public static let fileIdentifier = "M001"

    /// The model's name (e.g. "ImageClassifier").
    public var name: String?
    /// What the model does.
    public var description: String?
    /// The model's version, as its creators give it.
    public var version: String?
    /// Who made the model.
    public var author: String?
    /// Licences that apply to the model.
    public var license: String?
    /// The oldest metadata parser that understands every field populated.
    public var minParserVersion: String?
    /// Metadata of each subgraph; the first is the main one.
    public var subgraphs: [Subgraph]
    /// Files that belong to the whole model.
    public var associatedFiles: [AssociatedFile]

    public init(name: String? = nil, description: String? = nil, version: String? = nil, author: String? = nil,
                license: String? = nil, minParserVersion: String? = nil, subgraphs: [Subgraph] = [],
                associatedFiles: [AssociatedFile] = []) {
        self.name = name
        self.description = description
        self.version = version
        self.author = author
        self.license = license
        self.minParserVersion = minParserVersion
        self.subgraphs = subgraphs
        self.associatedFiles = associatedFiles
    }

    /// Reads the metadata flatbuffer in `reader`'s range.
    /// - Parameter reader: A reader over exactly the metadata buffer.
    /// - Throws: `ModelError.malformed` when the file identifier is not "M001" or the flatbuffer is inconsistent,
    ///   `ModelError.truncated` when a structure runs outside the buffer.
    public init(reader: FlatBufferReader) throws {
        guard reader.range.count >= 8 else {
            throw ModelError.truncated("\(Self.metadataName) of \(reader.range.count) bytes is too small for a flatbuffer")
        }
        let identifier = reader.fileIdentifier() ?? ""
        guard identifier == Self.fileIdentifier else {
            throw ModelError.malformed("\(Self.metadataName) has file identifier '\(identifier)', expected '\(Self.fileIdentifier)'")
        }
        var parser = MetadataParser(budget: 4 * reader.range.count + 4096)
        self = try parser.modelMetadata(try reader.root())
    }

    /// Reads a metadata flatbuffer held in memory (the bytes are copied).
    /// - Parameter data: The bytes of a `TFLITE_METADATA` buffer.
    /// - Throws: `ModelError` as `init(reader:)` does.
    public init(data: some Collection<UInt8>) throws {
        let bytes = ModelBytes(copying: data)
        try self.init(reader: FlatBufferReader(bytes: bytes.buffer, range: 0..<bytes.count, owner: bytes))
    }

    /// The main subgraph's metadata for input `index`, if the metadata describes it.
    public func inputTensor(_ index: Int, subgraph: Int = 0) -> Tensor? {
        guard subgraphs.indices.contains(subgraph), subgraphs[subgraph].inputTensors.indices.contains(index) else { return nil }
        return subgraphs[subgraph].inputTensors[index]
    }

    /// The main subgraph's metadata for output `index`, if the metadata describes it.
    public func outputTensor(_ index: Int, subgraph: Int = 0) -> Tensor? {
        guard subgraphs.indices.contains(subgraph), subgraphs[subgraph].outputTensors.indices.contains(index) else { return nil }
        return subgraphs[subgraph].outputTensors[index]
    }

    /// The normalisation (mean, std) of input `index` of the main subgraph, if the metadata gives one.
    public func inputNormalization(_ index: Int = 0) -> Normalization? { inputTensor(index)?.normalization }

    /// The label file of output `index` of the main subgraph: its first `TENSOR_AXIS_LABELS` file, or the one for
    /// `locale` when given and present.
    /// - Parameters:
    ///   - index: The output's position in the subgraph's outputs.
    ///   - locale: The preferred locale (e.g. "en"); files without a matching locale are used only as a fallback.
    public func labelFile(forOutput index: Int = 0, locale: String? = nil) -> AssociatedFile? {
        guard let files = outputTensor(index)?.associatedFiles.filter({ $0.type == .tensorAxisLabels }), !files.isEmpty else {
            return nil
        }
        if let locale, let match = files.first(where: { $0.locale == locale }) { return match }
        return files[0]
    }
}

extension ModelMetadata {
    /// A file packed into the model's appended zip archive, and what it is for.
    public struct AssociatedFile: Sendable, Equatable {
        /// The file's name in the zip archive.
        public var name: String?
        /// What the file is.
        public var description: String?
        /// What the file is for (labels, vocabulary, ...).
        public var type: FileType
        /// An ISO 639-1 locale ("en", "en-US") for files that exist in several languages.
        public var locale: String?
        /// The file's version (schema 1.4.1).
        public var version: String?

        public init(name: String?, description: String? = nil, type: FileType, locale: String? = nil, version: String? = nil) {
            self.name = name
            self.description = description
            self.type = type
            self.locale = locale
            self.version = version
        }
    }

    /// Schema `AssociatedFileType`.
    public struct FileType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: Int8
        public init(rawValue: Int8) { self.rawValue = rawValue }
        public static let unknown = FileType(rawValue: 0)
        /// Files such as readme.txt.
        public static let descriptions = FileType(rawValue: 1)
        /// One label per line for one axis of the tensor (e.g. the classes of a classifier's output).
        public static let tensorAxisLabels = FileType(rawValue: 2)
        /// Labels that the tensor's values index (e.g. the class ids of a detector).
        public static let tensorValueLabels = FileType(rawValue: 3)
        /// CSV parameters for sigmoid score calibration.
        public static let tensorAxisScoreCalibration = FileType(rawValue: 4)
        public static let vocabulary = FileType(rawValue: 5)
        public static let scannIndexFile = FileType(rawValue: 6)

        public var description: String {
            switch rawValue {
            case 0: return "UNKNOWN"
            case 1: return "DESCRIPTIONS"
            case 2: return "TENSOR_AXIS_LABELS"
            case 3: return "TENSOR_VALUE_LABELS"
            case 4: return "TENSOR_AXIS_SCORE_CALIBRATION"
            case 5: return "VOCABULARY"
            case 6: return "SCANN_INDEX_FILE"
            default: return "AssociatedFileType(\(rawValue))"
            }
        }
    }

    /// Metadata of one subgraph.
    public struct Subgraph: Sendable, Equatable {
        /// The subgraph's name.
        public var name: String?
        /// What the subgraph does.
        public var description: String?
        /// One per entry of the subgraph's `inputs`, in order.
        public var inputTensors: [Tensor]
        /// One per entry of the subgraph's `outputs`, in order.
        public var outputTensors: [Tensor]
        public var associatedFiles: [AssociatedFile]
        /// Process units that work on all inputs together (e.g. a tokenizer).
        public var inputProcessUnits: [ProcessUnit]
        public var outputProcessUnits: [ProcessUnit]
        public var inputTensorGroups: [TensorGroup]
        public var outputTensorGroups: [TensorGroup]
        public var customMetadata: [CustomMetadata]

        public init(name: String? = nil, description: String? = nil, inputTensors: [Tensor] = [], outputTensors: [Tensor] = [],
                    associatedFiles: [AssociatedFile] = [], inputProcessUnits: [ProcessUnit] = [],
                    outputProcessUnits: [ProcessUnit] = [], inputTensorGroups: [TensorGroup] = [],
                    outputTensorGroups: [TensorGroup] = [], customMetadata: [CustomMetadata] = []) {
            self.name = name
            self.description = description
            self.inputTensors = inputTensors
            self.outputTensors = outputTensors
            self.associatedFiles = associatedFiles
            self.inputProcessUnits = inputProcessUnits
            self.outputProcessUnits = outputProcessUnits
            self.inputTensorGroups = inputTensorGroups
            self.outputTensorGroups = outputTensorGroups
            self.customMetadata = customMetadata
        }
    }

    /// Metadata of one input or output tensor.
    public struct Tensor: Sendable, Equatable {
        /// The tensor's name in the metadata (not necessarily the model's tensor name).
        public var name: String?
        /// What the tensor holds.
        public var description: String?
        /// A name per dimension, when given.
        public var dimensionNames: [String]
        /// What the tensor holds: an image, a feature vector, bounding boxes, audio.
        public var content: Content?
        /// Out-of-graph processing, in order (normalisation, score calibration, ...).
        public var processUnits: [ProcessUnit]
        public var stats: Stats?
        public var associatedFiles: [AssociatedFile]

        public init(name: String? = nil, description: String? = nil, dimensionNames: [String] = [], content: Content? = nil,
                    processUnits: [ProcessUnit] = [], stats: Stats? = nil, associatedFiles: [AssociatedFile] = []) {
            self.name = name
            self.description = description
            self.dimensionNames = dimensionNames
            self.content = content
            self.processUnits = processUnits
            self.stats = stats
            self.associatedFiles = associatedFiles
        }

        /// The first normalisation process unit, if any.
        public var normalization: Normalization? {
            for unit in processUnits { if case let .normalization(n) = unit { return n } }
            return nil
        }

        /// The image properties of the content, if the tensor is an image.
        public var imageProperties: ImageProperties? {
            if case let .image(p)? = content?.properties { return p }
            return nil
        }
    }

    /// What a tensor holds.
    public struct Content: Sendable, Equatable {
        /// Nil when absent or of a kind this reader does not know.
        public var properties: ContentProperties?
        /// The dimensions the content spans; nil means all but the batch axis.
        public var range: ValueRange?

        public init(properties: ContentProperties?, range: ValueRange? = nil) {
            self.properties = properties
            self.range = range
        }
    }

    /// Schema union `ContentProperties`.
    public enum ContentProperties: Sendable, Equatable {
        case feature
        case image(ImageProperties)
        case boundingBox(BoundingBoxProperties)
        case audio(AudioProperties)
    }

    public struct ImageProperties: Sendable, Equatable {
        public var colorSpace: ColorSpace
        /// The default size for tensors whose shape is dynamic.
        public var defaultSize: (width: UInt32, height: UInt32)?

        public init(colorSpace: ColorSpace, defaultSize: (width: UInt32, height: UInt32)? = nil) {
            self.colorSpace = colorSpace
            self.defaultSize = defaultSize
        }

        public static func == (a: Self, b: Self) -> Bool {
            a.colorSpace == b.colorSpace && a.defaultSize?.width == b.defaultSize?.width
                && a.defaultSize?.height == b.defaultSize?.height
        }
    }

    /// Schema `ColorSpaceType`.
    public struct ColorSpace: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: Int8
        public init(rawValue: Int8) { self.rawValue = rawValue }
        public static let unknown = ColorSpace(rawValue: 0)
        public static let rgb = ColorSpace(rawValue: 1)
        public static let grayscale = ColorSpace(rawValue: 2)
        public var description: String {
            switch rawValue {
            case 0: return "UNKNOWN"
            case 1: return "RGB"
            case 2: return "GRAYSCALE"
            default: return "ColorSpaceType(\(rawValue))"
            }
        }
    }

    public struct BoundingBoxProperties: Sendable, Equatable {
        /// The order of the box's four values; empty for the type's default order.
        public var index: [UInt32]
        public var type: BoundingBoxType
        public var coordinateType: CoordinateType

        public init(index: [UInt32] = [], type: BoundingBoxType, coordinateType: CoordinateType) {
            self.index = index
            self.type = type
            self.coordinateType = coordinateType
        }
    }

    /// Schema `BoundingBoxType`.
    public struct BoundingBoxType: RawRepresentable, Hashable, Sendable {
        public let rawValue: Int8
        public init(rawValue: Int8) { self.rawValue = rawValue }
        public static let unknown = BoundingBoxType(rawValue: 0)
        /// {left, top, right, bottom}.
        public static let boundaries = BoundingBoxType(rawValue: 1)
        /// {upper-left x, upper-left y, width, height}.
        public static let upperLeft = BoundingBoxType(rawValue: 2)
        /// {center x, center y, width, height}.
        public static let center = BoundingBoxType(rawValue: 3)
    }

    /// Schema `CoordinateType`.
    public struct CoordinateType: RawRepresentable, Hashable, Sendable {
        public let rawValue: Int8
        public init(rawValue: Int8) { self.rawValue = rawValue }
        /// Coordinates are fractions of the image size, 0 to 1.
        public static let ratio = CoordinateType(rawValue: 0)
        /// Coordinates are pixels.
        public static let pixel = CoordinateType(rawValue: 1)
    }

    public struct AudioProperties: Sendable, Equatable {
        public var sampleRate: UInt32
        public var channels: UInt32

        public init(sampleRate: UInt32, channels: UInt32) {
            self.sampleRate = sampleRate
            self.channels = channels
        }
    }

    /// Schema `ValueRange`: a range of dimensions.
    public struct ValueRange: Sendable, Equatable {
        public var min: Int32
        public var max: Int32

        public init(min: Int32, max: Int32) {
            self.min = min
            self.max = max
        }
    }

    /// Schema union `ProcessUnitOptions`: one step of out-of-graph processing.
    public enum ProcessUnit: Sendable, Equatable {
        case normalization(Normalization)
        case scoreCalibration(ScoreCalibration)
        /// Results scoring below the threshold are low-confidence.
        case scoreThresholding(globalScoreThreshold: Float)
        case bertTokenizer(vocabularyFiles: [AssociatedFile])
        case sentencePieceTokenizer(modelFiles: [AssociatedFile], vocabularyFiles: [AssociatedFile])
        case regexTokenizer(delimiterPattern: String?, vocabularyFiles: [AssociatedFile])
    }

    /// Schema `NormalizationOptions`: values are normalised per channel as `(x - mean) / std`; a single value applies
    /// to every channel.
    public struct Normalization: Sendable, Equatable {
        public var mean: [Float]
        public var std: [Float]

        public init(mean: [Float], std: [Float]) {
            self.mean = mean
            self.std = std
        }
    }

    /// Schema `ScoreCalibrationOptions`.
    public struct ScoreCalibration: Sendable, Equatable {
        public var transformation: ScoreTransformation
        public var defaultScore: Float

        public init(transformation: ScoreTransformation, defaultScore: Float) {
            self.transformation = transformation
            self.defaultScore = defaultScore
        }
    }

    /// Schema `ScoreTransformationType`.
    public struct ScoreTransformation: RawRepresentable, Hashable, Sendable {
        public let rawValue: Int8
        public init(rawValue: Int8) { self.rawValue = rawValue }
        public static let identity = ScoreTransformation(rawValue: 0)
        public static let log = ScoreTransformation(rawValue: 1)
        public static let inverseLogistic = ScoreTransformation(rawValue: 2)
    }

    /// Schema `Stats`: per-channel extremes of the tensor's values (one value applies to every channel).
    public struct Stats: Sendable, Equatable {
        public var max: [Float]
        public var min: [Float]

        public init(max: [Float], min: [Float]) {
            self.max = max
            self.min = min
        }
    }

    /// Schema `TensorGroup`: tensors that belong together (e.g. the outputs describing one detection).
    public struct TensorGroup: Sendable, Equatable {
        public var name: String?
        public var tensorNames: [String]

        public init(name: String?, tensorNames: [String]) {
            self.name = name
            self.tensorNames = tensorNames
        }
    }

    /// Schema `CustomMetadata`: opaque named data.
    public struct CustomMetadata: Sendable, Equatable {
        public var name: String?
        public var data: [UInt8]

        public init(name: String?, data: [UInt8]) {
            self.name = name
            self.data = data
        }
    }
}

/// Reads the metadata tables, charging every table, string and vector element to a budget proportional to the
/// buffer's size, so that a hostile buffer whose offsets share sub-tables cannot make parsing quadratic.
private struct MetadataParser {
    var budget: Int

    mutating func spend(_ n: Int) throws {
        budget -= n
        guard budget >= 0 else {
            throw ModelError.malformed("\(ModelMetadata.metadataName) refers to more tables and values than its size can hold")
        }
    }

    mutating func table(_ t: FlatTable, _ slot: Int) throws -> FlatTable? {
        guard let sub = try t.table(slot) else { return nil }
        try spend(1)
        return sub
    }

    mutating func tables(_ t: FlatTable, _ slot: Int) throws -> [FlatTable] {
        guard let v = try t.vector(slot, elementSize: 4) else { return [] }
        try spend(1 + v.count)
        return try t.tables(slot)
    }

    mutating func string(_ t: FlatTable, _ slot: Int) throws -> String? {
        guard let v = try t.vector(slot, elementSize: 1) else { return nil }
        try spend(1 + v.count)
        return try t.string(slot)
    }

    mutating func strings(_ t: FlatTable, _ slot: Int) throws -> [String] {
        guard let v = try t.vector(slot, elementSize: 4) else { return [] }
        try spend(1 + v.count)
        let result = try t.strings(slot)
        try spend(result.reduce(0) { $0 + $1.utf8.count })
        return result
    }

    mutating func floats(_ t: FlatTable, _ slot: Int) throws -> [Float] {
        guard let v = try t.vector(slot, elementSize: 4) else { return [] }
        try spend(1 + v.count)
        return try t.floats(slot)
    }

    /// A union: its type tag in `slot`, its table in `slot + 1`. Returns nil for NONE; unknown tags are the caller's
    /// to skip.
    mutating func union(_ t: FlatTable, _ slot: Int, _ what: String) throws -> (type: UInt8, table: FlatTable)? {
        let type = try t.scalar(slot, UInt8(0))
        guard type != 0 else { return nil }
        guard let value = try table(t, slot + 1) else {
            throw ModelError.malformed("\(what) has union type \(type) but no value")
        }
        return (type, value)
    }

    mutating func modelMetadata(_ t: FlatTable) throws -> ModelMetadata {
        try spend(1)
        return ModelMetadata(
            name: try string(t, 0), description: try string(t, 1), version: try string(t, 2),
            author: try string(t, 4), license: try string(t, 5), minParserVersion: try string(t, 7),
            subgraphs: try tables(t, 3).map { try subgraph($0) },
            associatedFiles: try associatedFiles(t, 6))
    }

    mutating func subgraph(_ t: FlatTable) throws -> ModelMetadata.Subgraph {
        ModelMetadata.Subgraph(
            name: try string(t, 0), description: try string(t, 1),
            inputTensors: try tables(t, 2).map { try tensor($0) },
            outputTensors: try tables(t, 3).map { try tensor($0) },
            associatedFiles: try associatedFiles(t, 4),
            inputProcessUnits: try processUnits(t, 5),
            outputProcessUnits: try processUnits(t, 6),
            inputTensorGroups: try tables(t, 7).map { ModelMetadata.TensorGroup(name: try string($0, 0), tensorNames: try strings($0, 1)) },
            outputTensorGroups: try tables(t, 8).map { ModelMetadata.TensorGroup(name: try string($0, 0), tensorNames: try strings($0, 1)) },
            customMetadata: try tables(t, 9).map { c in
                let bytes: [UInt8]
                if let v = try c.vector(1, elementSize: 1) {
                    try spend(1 + v.count)
                    bytes = Array(UnsafeRawBufferPointer(rebasing: c.reader.bytes[v.byteRange]))
                } else {
                    bytes = []
                }
                return ModelMetadata.CustomMetadata(name: try string(c, 0), data: bytes)
            })
    }

    mutating func tensor(_ t: FlatTable) throws -> ModelMetadata.Tensor {
        var stats: ModelMetadata.Stats?
        if let s = try table(t, 5) { stats = ModelMetadata.Stats(max: try floats(s, 0), min: try floats(s, 1)) }
        return ModelMetadata.Tensor(
            name: try string(t, 0), description: try string(t, 1), dimensionNames: try strings(t, 2),
            content: try table(t, 3).map { try content($0) },
            processUnits: try processUnits(t, 4), stats: stats,
            associatedFiles: try associatedFiles(t, 6))
    }

    mutating func content(_ t: FlatTable) throws -> ModelMetadata.Content {
        var properties: ModelMetadata.ContentProperties?
        if let u = try union(t, 0, "tensor content") {
            let p = u.table
            switch u.type {
            case 1: properties = .feature
            case 2:
                var size: (width: UInt32, height: UInt32)?
                if let s = try table(p, 1) { size = (try s.scalar(0, UInt32(0)), try s.scalar(1, UInt32(0))) }
                properties = .image(ModelMetadata.ImageProperties(
                    colorSpace: ModelMetadata.ColorSpace(rawValue: try p.scalar(0, Int8(0))), defaultSize: size))
            case 3:
                let index: [UInt32]
                if let v = try p.vector(0, elementSize: 4) {
                    try spend(1 + v.count)
                    index = try p.scalars(0, as: UInt32.self)
                } else {
                    index = []
                }
                properties = .boundingBox(ModelMetadata.BoundingBoxProperties(
                    index: index, type: ModelMetadata.BoundingBoxType(rawValue: try p.scalar(1, Int8(0))),
                    coordinateType: ModelMetadata.CoordinateType(rawValue: try p.scalar(2, Int8(0)))))
            case 4:
                properties = .audio(ModelMetadata.AudioProperties(sampleRate: try p.scalar(0, UInt32(0)),
                                                                  channels: try p.scalar(1, UInt32(0))))
            default:
                properties = nil  // a content kind from a newer schema
            }
        }
        var range: ModelMetadata.ValueRange?
        if let r = try table(t, 2) { range = ModelMetadata.ValueRange(min: try r.scalar(0, Int32(0)), max: try r.scalar(1, Int32(0))) }
        return ModelMetadata.Content(properties: properties, range: range)
    }

    mutating func processUnits(_ t: FlatTable, _ slot: Int) throws -> [ModelMetadata.ProcessUnit] {
        var units: [ModelMetadata.ProcessUnit] = []
        for u in try tables(t, slot) {
            guard let option = try union(u, 0, "process unit") else { continue }
            let o = option.table
            switch option.type {
            case 1: units.append(.normalization(ModelMetadata.Normalization(mean: try floats(o, 0), std: try floats(o, 1))))
            case 2:
                units.append(.scoreCalibration(ModelMetadata.ScoreCalibration(
                    transformation: ModelMetadata.ScoreTransformation(rawValue: try o.scalar(0, Int8(0))),
                    defaultScore: try o.float(1, 0))))
            case 3: units.append(.scoreThresholding(globalScoreThreshold: try o.float(0, 0)))
            case 4: units.append(.bertTokenizer(vocabularyFiles: try associatedFiles(o, 0)))
            case 5:
                units.append(.sentencePieceTokenizer(modelFiles: try associatedFiles(o, 0),
                                                     vocabularyFiles: try associatedFiles(o, 1)))
            case 6:
                units.append(.regexTokenizer(delimiterPattern: try string(o, 0), vocabularyFiles: try associatedFiles(o, 1)))
            default:
                continue  // a process unit from a newer schema
            }
        }
        return units
    }

    mutating func associatedFiles(_ t: FlatTable, _ slot: Int) throws -> [ModelMetadata.AssociatedFile] {
        try tables(t, slot).map { f in
            ModelMetadata.AssociatedFile(
                name: try string(f, 0), description: try string(f, 1),
                type: ModelMetadata.FileType(rawValue: try f.scalar(2, Int8(0))),
                locale: try string(f, 3), version: try string(f, 4))
        }
    }
}
