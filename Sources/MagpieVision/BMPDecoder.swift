/// Windows/OS2 bitmap decoding in Swift.
///
/// Handles the 12-byte core header, BITMAPINFOHEADER (40), its V2/V3 extensions (52, 56), the OS/2 2.x header
/// (64), V4 (108) and V5 (124); 1, 4 and 8-bit palettes; 16, 24 and 32-bit pixels, uncompressed or with
/// BI_BITFIELDS masks; bottom-up and top-down rows. Run-length, JPEG and PNG compression are refused with
/// `ImageError.unsupported`. Every read is bounds-checked against the buffer.
enum BMPDecoder {
    // Compression codes of BITMAPINFOHEADER.
    private static let biRGB: UInt32 = 0, biRLE8: UInt32 = 1, biRLE4: UInt32 = 2, biBitfields: UInt32 = 3
    private static let biJPEG: UInt32 = 4, biPNG: UInt32 = 5, biAlphaBitfields: UInt32 = 6

    /// Bounds-checked little-endian reads.
    private struct Reader {
        let bytes: UnsafeRawBufferPointer

        func u8(_ offset: Int) throws -> UInt8 {
            guard offset >= 0, offset < bytes.count else { throw truncated(offset + 1) }
            return bytes[offset]
        }

        func u16(_ offset: Int) throws -> UInt16 {
            guard offset >= 0, offset <= bytes.count - 2 else { throw truncated(offset + 2) }
            return UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8
        }

        func u32(_ offset: Int) throws -> UInt32 {
            guard offset >= 0, offset <= bytes.count - 4 else { throw truncated(offset + 4) }
            return UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8
                | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3]) << 24
        }

        func i32(_ offset: Int) throws -> Int32 { Int32(bitPattern: try u32(offset)) }

        func truncated(_ needed: Int) -> ImageError {
            .corrupt(.bmp, "truncated header (needs at least \(needed) bytes, file has \(bytes.count))")
        }
    }

    /// One colour channel described by a bit mask.
    private struct Channel {
        let mask: UInt32
        let shift: Int
        let maxValue: UInt32

        init(mask: UInt32) {
            self.mask = mask
            shift = mask == 0 ? 0 : mask.trailingZeroBitCount
            maxValue = mask >> UInt32(shift)
        }

        /// The channel's value scaled to 0...255.
        @inline(__always)
        func value(_ pixel: UInt32) -> UInt8 {
            guard maxValue != 0 else { return 0 }
            let v = (pixel & mask) >> UInt32(shift)
            if maxValue == 255 { return UInt8(truncatingIfNeeded: v) }
            if maxValue > 255 {
                // Wider than 8 bits: keep the top 8.
                let bits = UInt32.bitWidth - maxValue.leadingZeroBitCount
                return UInt8(truncatingIfNeeded: v >> UInt32(bits - 8))
            }
            return UInt8(truncatingIfNeeded: v * 255 / maxValue)
        }
    }

    /// Decodes a BMP file.
    ///
    /// - Parameters:
    ///   - bytes: the whole file, starting with "BM".
    ///   - limits: the largest dimensions accepted.
    /// - Returns: the image, top row first.
    /// - Throws: `ImageError.corrupt` for a damaged or truncated file, `.unsupported` for compressed or unusual
    ///   variants, `.tooLarge` past `limits`.
    static func decode(_ bytes: UnsafeRawBufferPointer, limits: ImageLimits) throws -> RGBImage {
        let r = Reader(bytes: bytes)
        guard bytes.count >= 18 else { throw r.truncated(18) }
        let pixelOffset = Int(try r.u32(10))
        let headerSize = Int(try r.u32(14))

        var width = 0, height = 0, bitCount = 0, compression = biRGB, colorsUsed = 0
        var paletteEntrySize = 4
        var masks: (r: UInt32, g: UInt32, b: UInt32)?
        var paletteStart = 14 + headerSize

        switch headerSize {
        case 12:  // BITMAPCOREHEADER (OS/2 1.x): 16-bit unsigned dimensions, 3-byte palette entries.
            width = Int(try r.u16(18))
            height = Int(try r.u16(20))
            bitCount = Int(try r.u16(24))
            paletteEntrySize = 3
        case 40, 52, 56, 64, 108, 124:
            width = Int(try r.i32(18))
            height = Int(try r.i32(22))
            bitCount = Int(try r.u16(28))
            compression = try r.u32(30)
            colorsUsed = Int(try r.u32(46))
            if headerSize == 64 && compression != biRGB {
                // OS/2 2.x reuses codes 3 and 4 for Huffman and RLE24.
                throw ImageError.unsupported(.bmp, "OS/2 compression type \(compression) is not supported")
            }
            if compression == biBitfields || compression == biAlphaBitfields {
                // V2 and later hold the masks in the header; BITMAPINFOHEADER has them right after it.
                let maskOffset = 14 + 40
                masks = (try r.u32(maskOffset), try r.u32(maskOffset + 4), try r.u32(maskOffset + 8))
                if headerSize == 40 { paletteStart += compression == biAlphaBitfields ? 16 : 12 }
            }
        default:
            throw ImageError.unsupported(.bmp, "unknown header size \(headerSize)")
        }

        switch compression {
        case biRGB, biBitfields, biAlphaBitfields: break
        case biRLE8: throw ImageError.unsupported(.bmp, "RLE8-compressed bitmaps are not supported")
        case biRLE4: throw ImageError.unsupported(.bmp, "RLE4-compressed bitmaps are not supported")
        case biJPEG: throw ImageError.unsupported(.bmp, "JPEG-compressed bitmaps are not supported")
        case biPNG: throw ImageError.unsupported(.bmp, "PNG-compressed bitmaps are not supported")
        default: throw ImageError.unsupported(.bmp, "compression type \(compression) is not supported")
        }

        let topDown = height < 0
        height = abs(height)  // Int from Int32: no overflow even for Int32.min
        guard width > 0, height > 0 else {
            throw ImageError.corrupt(.bmp, "invalid dimensions \(width)x\(topDown ? -height : height)")
        }
        guard limits.allows(width: width, height: height) else {
            throw ImageError.tooLarge(width: width, height: height, limits: limits)
        }

        // Palette (1, 4, 8 bits) or channel masks (16, 32 bits).
        var palette: [UInt8] = []  // RGB triples
        var channels: (r: Channel, g: Channel, b: Channel)?
        switch bitCount {
        case 1, 4, 8:
            guard masks == nil else {
                throw ImageError.corrupt(.bmp, "bit-field masks given for a \(bitCount)-bit palette image")
            }
            let maximum = 1 << bitCount
            var count = colorsUsed == 0 ? maximum : min(colorsUsed, maximum)
            // The palette ends where the pixels start: writers often store fewer entries than 2^bits
            // (the core header cannot even say how many).
            if pixelOffset > paletteStart { count = min(count, (pixelOffset - paletteStart) / paletteEntrySize) }
            guard count > 0 else { throw ImageError.corrupt(.bmp, "missing palette") }
            palette.reserveCapacity(count * 3)
            for i in 0..<count {
                let entry = paletteStart + i * paletteEntrySize
                guard entry >= 0, entry + 3 <= bytes.count else {
                    throw ImageError.corrupt(.bmp, "truncated palette (\(count) entries declared)")
                }
                palette += [bytes[entry + 2], bytes[entry + 1], bytes[entry]]
            }
        case 16:
            let m = masks ?? (0x7C00, 0x03E0, 0x001F)
            channels = (Channel(mask: m.r), Channel(mask: m.g), Channel(mask: m.b))
        case 24:
            guard masks == nil else { throw ImageError.corrupt(.bmp, "bit-field masks given for a 24-bit image") }
        case 32:
            let m = masks ?? (0x00FF_0000, 0x0000_FF00, 0x0000_00FF)
            channels = (Channel(mask: m.r), Channel(mask: m.g), Channel(mask: m.b))
        default:
            throw ImageError.unsupported(.bmp, "\(bitCount) bits per pixel is not supported")
        }

        // Rows are padded to 4 bytes.
        let stride = (width * bitCount + 31) / 32 * 4
        let rowBytes = (width * bitCount + 7) / 8
        let (span, overflow) = (height - 1).multipliedReportingOverflow(by: stride)
        guard pixelOffset >= 14, pixelOffset <= bytes.count, !overflow,
              span <= bytes.count - pixelOffset - rowBytes else {
            throw ImageError.corrupt(.bmp, "truncated pixel data (\(width)x\(height) at \(bitCount) bits per pixel "
                                     + "from offset \(pixelOffset); the file has \(bytes.count) bytes)")
        }

        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        pixels.withUnsafeMutableBufferPointer { out in
            for y in 0..<height {
                let source = pixelOffset + (topDown ? y : height - 1 - y) * stride
                let row = UnsafeRawBufferPointer(rebasing: bytes[source..<(source + rowBytes)])
                let target = UnsafeMutableBufferPointer(rebasing: out[(y * width * 3)..<((y + 1) * width * 3)])
                switch bitCount {
                case 24:
                    for x in 0..<width {
                        target[3 * x] = row[3 * x + 2]
                        target[3 * x + 1] = row[3 * x + 1]
                        target[3 * x + 2] = row[3 * x]
                    }
                case 16, 32:
                    let c = channels!
                    let size = bitCount / 8
                    for x in 0..<width {
                        var value = UInt32(row[size * x]) | UInt32(row[size * x + 1]) << 8
                        if size == 4 { value |= UInt32(row[4 * x + 2]) << 16 | UInt32(row[4 * x + 3]) << 24 }
                        target[3 * x] = c.r.value(value)
                        target[3 * x + 1] = c.g.value(value)
                        target[3 * x + 2] = c.b.value(value)
                    }
                default:  // 1, 4, 8-bit palette, most significant bits first
                    let perByte = 8 / bitCount
                    let indexMask = (1 << bitCount) - 1
                    for x in 0..<width {
                        let byte = Int(row[x / perByte])
                        let index = (byte >> (8 - bitCount * (x % perByte + 1))) & indexMask
                        if index * 3 + 2 < palette.count {  // indices past the palette stay black
                            target[3 * x] = palette[index * 3]
                            target[3 * x + 1] = palette[index * 3 + 1]
                            target[3 * x + 2] = palette[index * 3 + 2]
                        }
                    }
                }
            }
        }
        return RGBImage(width: width, height: height, pixels: pixels)
    }
}
