extension Model {
    /// Parses the model's TFLite Support metadata (the `TFLITE_METADATA` entry).
    ///
    /// Parses on every call; the model is immutable, so this is safe from any thread. Keep the result if you need it
    /// more than once.
    /// - Returns: The metadata, or nil when the model has no `TFLITE_METADATA` entry.
    /// - Throws: `ModelError` when the entry is empty or its flatbuffer is malformed.
    public func metadata() throws -> ModelMetadata? {
        guard let entry = metadataEntries.first(where: { $0.name == ModelMetadata.metadataName }) else { return nil }
        guard entry.buffer < buffers.count, let range = buffers[entry.buffer] else {
            throw ModelError.malformed("\(ModelMetadata.metadataName) refers to buffer \(entry.buffer), which is empty")
        }
        return try ModelMetadata(reader: FlatBufferReader(bytes: bytes.buffer, range: range, owner: bytes))
    }

    /// The zip archive of associated files appended to the model file (label maps, vocabularies).
    /// - Parameter maxEntrySize: The largest uncompressed entry the archive will extract.
    /// - Returns: The archive, or nil when the file does not end with one.
    /// - Throws: `ModelError` when the file ends with a zip end record but the archive is malformed or unsupported.
    public func associatedFilesArchive(maxEntrySize: Int = ZipArchive.defaultMaxEntrySize) throws -> ZipArchive? {
        try ZipArchive.appended(to: bytes, maxEntrySize: maxEntrySize)
    }

    /// The contents of the associated file called `name`, from the appended zip archive.
    /// - Parameter name: The file's name, as the metadata's `AssociatedFile.name` gives it.
    /// - Returns: The file's bytes, or nil when there is no archive or no such file in it.
    /// - Throws: `ModelError` when the archive is malformed, or the entry is compressed, too large or corrupt.
    public func associatedFile(named name: String) throws -> [UInt8]? {
        try associatedFilesArchive()?.data(named: name)
    }

    /// The labels of output `index` of the main subgraph: its `TENSOR_AXIS_LABELS` file, read from the appended zip
    /// archive, one label per line.
    /// - Parameters:
    ///   - index: The output's position in the main subgraph's outputs.
    ///   - locale: The preferred locale of the label file (e.g. "en"), when the metadata offers several.
    /// - Returns: The labels (without line terminators or trailing empty lines), or nil when the model has no
    ///   metadata or names no label file for that output.
    /// - Throws: `ModelError` when the metadata or archive is malformed, the named file is missing from the archive,
    ///   or the file is not UTF-8.
    public func labels(forOutput index: Int = 0, locale: String? = nil) throws -> [String]? {
        guard let file = try metadata()?.labelFile(forOutput: index, locale: locale) else { return nil }
        return try labels(in: file)
    }

    /// The lines of an associated text file (a label map or vocabulary), read from the appended zip archive.
    /// - Parameter file: An associated file named in the model's metadata.
    /// - Returns: The file's lines, without "\n" or "\r\n" terminators, a leading byte-order mark or trailing empty
    ///   lines. Empty lines inside the file are kept so that line numbers stay aligned with tensor indices.
    /// - Throws: `ModelError.malformed` when the file has no name, the model has no archive, the archive lacks the
    ///   file or its text is not UTF-8; other `ModelError`s from `ZipArchive.data(of:)`.
    public func labels(in file: ModelMetadata.AssociatedFile) throws -> [String] {
        guard let name = file.name else { throw ModelError.malformed("an associated \(file.type) file has no name") }
        guard let archive = try associatedFilesArchive() else {
            throw ModelError.malformed("the metadata names '\(name)', but the model has no appended zip archive")
        }
        guard let data = try archive.data(named: name) else {
            throw ModelError.malformed("the metadata names '\(name)', but the appended zip archive has no such file")
        }
        return try Model.lines(of: data, name: name)
    }

    /// Splits UTF-8 text into lines as label files use them. Works on bytes, since "\r\n" is one `Character`.
    static func lines(of data: [UInt8], name: String) throws -> [String] {
        guard String(validating: data, as: UTF8.self) != nil else {
            throw ModelError.malformed("associated file '\(name)' is not UTF-8 text")
        }
        var body = data[...]
        if body.starts(with: [0xEF, 0xBB, 0xBF]) { body = body.dropFirst(3) }
        var lines = body.split(separator: 0x0A, omittingEmptySubsequences: false).map { line -> String in
            String(decoding: line.last == 0x0D ? line.dropLast() : line, as: UTF8.self)
        }
        while lines.last?.isEmpty == true { lines.removeLast() }
        return lines
    }
}
