/// The container formats `RGBImage` can decode, recognised by their leading bytes.
public enum ImageFormat: String, Sendable, Equatable, CaseIterable, CustomStringConvertible {
    case jpeg = "JPEG"
    case png = "PNG"
    case bmp = "BMP"

    public var description: String { rawValue }

    /// Recognises a format from the first bytes of a file (magic numbers; the file name is never consulted).
    ///
    /// - Parameter bytes: the start of the file; a dozen bytes are enough.
    /// - Returns: the format, or nil when the bytes start no JPEG (`FF D8 FF`), PNG (`89 'PNG' 0D 0A 1A 0A`)
    ///   or BMP (`'BM'`).
    public static func detect(_ bytes: UnsafeRawBufferPointer) -> ImageFormat? {
        if bytes.count >= 3, bytes[0] == 0xFF, bytes[1] == 0xD8, bytes[2] == 0xFF { return .jpeg }
        if bytes.count >= 8, bytes.prefix(8).elementsEqual([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) {
            return .png
        }
        if bytes.count >= 2, bytes[0] == 0x42, bytes[1] == 0x4D { return .bmp }
        return nil
    }

    /// Recognises a format from the first bytes of `bytes`.
    ///
    /// - Parameter bytes: the start of the file.
    /// - Returns: the format, or nil when it is not JPEG, PNG or BMP.
    public static func detect(_ bytes: [UInt8]) -> ImageFormat? {
        bytes.withUnsafeBytes { detect($0) }
    }
}

/// Upper bounds on the dimensions of a decoded image, checked against the header before any pixel memory is
/// allocated, so that a hostile header cannot make the decoder allocate gigabytes.
public struct ImageLimits: Sendable, Equatable {
    /// Largest width or height accepted.
    public var maxSide: Int
    /// Largest width × height accepted.
    public var maxPixels: Int

    /// Creates limits.
    ///
    /// - Parameters:
    ///   - maxSide: largest width or height accepted (at most `Int32.max`).
    ///   - maxPixels: largest pixel count accepted.
    public init(maxSide: Int = 32768, maxPixels: Int = 1 << 28) {
        self.maxSide = max(0, min(maxSide, Int(Int32.max)))
        self.maxPixels = max(0, maxPixels)
    }

    /// 32768 pixels per side and 2^28 pixels in all (768 MiB of RGB).
    public static let `default` = ImageLimits()

    /// Whether an image of the given size is within the limits.
    ///
    /// - Parameters:
    ///   - width: image width in pixels.
    ///   - height: image height in pixels.
    /// - Returns: true when both sides and the pixel count are within the limits.
    public func allows(width: Int, height: Int) -> Bool {
        guard width <= maxSide, height <= maxSide else { return false }
        let (count, overflow) = width.multipliedReportingOverflow(by: height)
        return !overflow && count <= maxPixels
    }
}

/// Why an image could not be loaded or decoded.
public enum ImageError: Error, Equatable, Sendable, CustomStringConvertible {
    /// There were no bytes at all.
    case empty
    /// The bytes are not a JPEG, PNG or BMP file.
    case unsupportedFormat
    /// The file is damaged or truncated; the reason is the decoder's own message.
    case corrupt(ImageFormat, String)
    /// The file is valid but uses a feature this decoder does not handle (RLE BMP, 12-bit JPEG, ...).
    case unsupported(ImageFormat, String)
    /// The header declares dimensions over the limits.
    case tooLarge(width: Int, height: Int, limits: ImageLimits)
    /// Memory for the pixels could not be allocated.
    case outOfMemory(ImageFormat)
    /// The file could not be read.
    case unreadableFile(path: String, reason: String)

    public var description: String {
        switch self {
        case .empty: return "empty image data"
        case .unsupportedFormat: return "unsupported image format (not JPEG, PNG or BMP)"
        case let .corrupt(format, reason): return "corrupt \(format): \(reason)"
        case let .unsupported(format, reason): return "unsupported \(format): \(reason)"
        case let .tooLarge(width, height, limits):
            return "image of \(width)x\(height) pixels is over the limit (\(limits.maxSide) per side, \(limits.maxPixels) pixels)"
        case let .outOfMemory(format): return "not enough memory to decode the \(format) image"
        case let .unreadableFile(path, reason): return "cannot read image file '\(path)': \(reason)"
        }
    }
}
