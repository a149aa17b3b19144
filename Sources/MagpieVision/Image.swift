/// An 8-bit RGB image, row-major, 3 bytes per pixel.
///
/// Decode one with `init(contentsOfFile:limits:)` or `init(decoding:limits:)` (JPEG, PNG, BMP), scale it with
/// `resized(width:height:filter:)` and write it into a model input with `fillInput(_:spec:normalization:into:)`.
public struct RGBImage: Sendable, Equatable {
    /// Columns.
    public let width: Int
    /// Rows.
    public let height: Int
    /// `width * height * 3` bytes: R, G, B of each pixel, top row first.
    public var pixels: [UInt8]

    /// Wraps existing pixels.
    ///
    /// - Parameters:
    ///   - width: columns, not negative.
    ///   - height: rows, not negative.
    ///   - pixels: exactly `width * height * 3` bytes, R, G, B per pixel, top row first (checked by a precondition).
    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width >= 0 && height >= 0 && pixels.count == width * height * 3)
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// The red, green and blue values at column `x`, row `y` (row 0 is the top).
    ///
    /// - Parameters:
    ///   - x: column, `0..<width`.
    ///   - y: row, `0..<height`.
    public func pixel(x: Int, y: Int) -> (r: UInt8, g: UInt8, b: UInt8) {
        precondition(x >= 0 && x < width && y >= 0 && y < height, "pixel (\(x), \(y)) outside \(width)x\(height)")
        let i = (y * width + x) * 3
        return (pixels[i], pixels[i + 1], pixels[i + 2])
    }
}
