import CMagpieImage
import Foundation

extension RGBImage {
    /// Decodes a JPEG, PNG or BMP file into 8-bit RGB.
    ///
    /// The format comes from the file's first bytes, never its name. Grey, palette, alpha and 16-bit images are
    /// converted the way Pillow's `Image.open(path).convert("RGB")` converts them (alpha dropped, not
    /// composited; 16-bit samples keep their high byte). EXIF orientation is not applied, as in Pillow.
    ///
    /// - Parameters:
    ///   - path: the file to read.
    ///   - limits: the largest dimensions accepted; checked from the header before pixels are allocated.
    /// - Throws: `ImageError.unreadableFile` when the file cannot be read, and every error of `init(decoding:limits:)`.
    public init(contentsOfFile path: String, limits: ImageLimits = .default) throws {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ImageError.unreadableFile(path: path, reason: error.localizedDescription)
        }
        try self.init(decoding: data, limits: limits)
    }

    /// Decodes JPEG, PNG or BMP bytes into 8-bit RGB.
    ///
    /// - Parameters:
    ///   - bytes: the whole file (`Data`, `[UInt8]` or any other contiguous bytes).
    ///   - limits: the largest dimensions accepted.
    /// - Throws: `ImageError.empty`, `.unsupportedFormat` (not JPEG, PNG or BMP), `.corrupt` (damaged or
    ///   truncated data, with the decoder's message), `.unsupported` (a valid file using a feature not handled
    ///   here), `.tooLarge` or `.outOfMemory`.
    public init(decoding bytes: some ContiguousBytes, limits: ImageLimits = .default) throws {
        self = try bytes.withUnsafeBytes { try RGBImage.decode($0, limits: limits) }
    }

    /// Decodes JPEG, PNG or BMP bytes into 8-bit RGB.
    ///
    /// - Parameters:
    ///   - bytes: the whole file.
    ///   - limits: the largest dimensions accepted.
    /// - Returns: the decoded image.
    /// - Throws: `ImageError` as described for `init(decoding:limits:)`.
    public static func decode(_ bytes: UnsafeRawBufferPointer, limits: ImageLimits = .default) throws -> RGBImage {
        guard bytes.count > 0 else { throw ImageError.empty }
        guard let format = ImageFormat.detect(bytes) else { throw ImageError.unsupportedFormat }
        switch format {
        case .bmp: return try BMPDecoder.decode(bytes, limits: limits)
        case .jpeg, .png: return try decodeNatively(bytes, format: format, limits: limits)
        }
    }

    /// Runs the C decoder for JPEG or PNG and turns its status into an `ImageError`.
    private static func decodeNatively(_ bytes: UnsafeRawBufferPointer, format: ImageFormat,
                                       limits: ImageLimits) throws -> RGBImage {
        let base = bytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
        var result = MagpieDecodedImage()
        let maxSide = Int32(clamping: limits.maxSide)
        let maxPixels = Int64(clamping: limits.maxPixels)
        switch format {
        case .jpeg: magpie_decode_jpeg(base, bytes.count, maxSide, maxPixels, &result)
        case .png: magpie_decode_png(base, bytes.count, maxSide, maxPixels, &result)
        case .bmp: preconditionFailure("BMP is decoded in Swift")
        }
        defer { magpie_image_free(result.pixels) }
        let message = withUnsafeBytes(of: result.message) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        switch result.status {
        case Int32(MAGPIE_DECODE_OK.rawValue):
            break
        case Int32(MAGPIE_DECODE_TOO_LARGE.rawValue):
            throw ImageError.tooLarge(width: Int(result.width), height: Int(result.height), limits: limits)
        case Int32(MAGPIE_DECODE_UNSUPPORTED.rawValue):
            throw ImageError.unsupported(format, message)
        case Int32(MAGPIE_DECODE_OUT_OF_MEMORY.rawValue):
            throw ImageError.outOfMemory(format)
        default:
            throw ImageError.corrupt(format, message.isEmpty ? "undecodable data" : message)
        }
        let width = Int(result.width), height = Int(result.height)
        guard let source = result.pixels, width > 0, height > 0 else {
            throw ImageError.corrupt(format, "decoder returned no pixels")
        }
        let count = width * height * 3
        let pixels = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            buffer.baseAddress!.initialize(from: source, count: count)
            initialized = count
        }
        return RGBImage(width: width, height: height, pixels: pixels)
    }
}
