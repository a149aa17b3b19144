import XCTest
@testable import MagpieVision

/// BMP variants written here from known pixels, decoded back.
final class BMPTests: XCTestCase {
    /// A 5x3 image whose pixels are all distinct; width 5 makes 24-bit rows need a padding byte.
    private let width = 5, height = 3
    private var expected: [UInt8] {
        (0..<(width * height)).flatMap { (i: Int) -> [UInt8] in [UInt8(i * 16 % 256), UInt8(255 - i * 7), UInt8(i * 29 % 256)] }
    }
    private func rgb(_ x: Int, _ y: Int) -> [UInt8] { Array(expected[((y * width + x) * 3)..<((y * width + x) * 3 + 3)]) }

    private func rows(bytesPerPixel: (_ rgb: [UInt8]) -> [UInt8]) -> [[UInt8]] {
        (0..<height).map { y in (0..<width).flatMap { x in bytesPerPixel(rgb(x, y)) } }
    }

    func test24BitBottomUpAndTopDown() throws {
        let bgr = rows { [$0[2], $0[1], $0[0]] }
        XCTAssertEqual(try RGBImage(decoding: makeBMP(width: width, height: height, bitCount: 24, rows: bgr)).pixels, expected)
        let topDown = try RGBImage(decoding: makeBMP(width: width, height: height, bitCount: 24, topDown: true, rows: bgr))
        XCTAssertEqual(topDown.pixels, expected)
        XCTAssertEqual(topDown.width, width)
        XCTAssertEqual(topDown.height, height)
        // The same pixels under every header size the decoder knows.
        for header in [12, 40, 108, 124] {
            let image = try RGBImage(decoding: makeBMP(width: width, height: height, bitCount: 24, headerSize: header, rows: bgr))
            XCTAssertEqual(image.pixels, expected, "header \(header)")
        }
    }

    func test32BitUncompressedIgnoresTheFourthByte() throws {
        let bgrx = rows { [$0[2], $0[1], $0[0], 0xA5] }
        XCTAssertEqual(try RGBImage(decoding: makeBMP(width: width, height: height, bitCount: 32, rows: bgrx)).pixels, expected)
        XCTAssertEqual(try RGBImage(decoding: makeBMP(width: width, height: height, bitCount: 32, headerSize: 124,
                                                      topDown: true, rows: bgrx)).pixels, expected)
    }

    func test32BitBitFieldsInV4V5AndInfoHeaders() throws {
        // BGRA byte order (masks R=0x00FF0000) with an alpha mask, in a V5 header.
        let bgra = rows { [$0[2], $0[1], $0[0], 0x40] }
        let v5 = makeBMP(width: width, height: height, bitCount: 32, headerSize: 124, compression: 3,
                         masks: [0x00FF_0000, 0x0000_FF00, 0x0000_00FF, 0xFF00_0000], rows: bgra)
        XCTAssertEqual(try RGBImage(decoding: v5).pixels, expected)
        // RGBA byte order (R=0x000000FF) in a V4 header.
        let rgba = rows { [$0[0], $0[1], $0[2], 0xFF] }
        let v4 = makeBMP(width: width, height: height, bitCount: 32, headerSize: 108, compression: 3,
                         masks: [0x0000_00FF, 0x0000_FF00, 0x00FF_0000, 0xFF00_0000], rows: rgba)
        XCTAssertEqual(try RGBImage(decoding: v4).pixels, expected)
        // ABGR-style layout with the masks after a 40-byte header (BI_BITFIELDS).
        let xbgr = rows { [0x00, $0[2], $0[1], $0[0]] }
        let info = makeBMP(width: width, height: height, bitCount: 32, compression: 3,
                           masks: [0xFF00_0000, 0x00FF_0000, 0x0000_FF00], rows: xbgr)
        XCTAssertEqual(try RGBImage(decoding: info).pixels, expected)
    }

    func test16BitMatchesPillow() throws {
        func words(_ values: [UInt16]) -> [[UInt8]] {
            (0..<2).map { y in (0..<4).flatMap { x in [UInt8(values[y * 4 + x] & 0xFF), UInt8(values[y * 4 + x] >> 8)] } }
        }
        let rgb555 = makeBMP(width: 4, height: 2, bitCount: 16, rows: words(PILReference.rgb555Words))
        XCTAssertEqual(try RGBImage(decoding: rgb555).pixels, PILReference.rgb555Pixels)
        let rgb565 = makeBMP(width: 4, height: 2, bitCount: 16, compression: 3, masks: [0xF800, 0x07E0, 0x001F],
                             rows: words(PILReference.rgb565Words))
        XCTAssertEqual(try RGBImage(decoding: rgb565).pixels, PILReference.rgb565Pixels)
    }

    func testPalettes() throws {
        let palette: [[UInt8]] = (0..<16).map { (i: Int) -> [UInt8] in [UInt8(i * 16), UInt8(255 - i * 16), UInt8(i * 5)] }
        let indices: [[Int]] = (0..<height).map { (y: Int) -> [Int] in (0..<width).map { (x: Int) -> Int in (x * 3 + y * 5) % 16 } }
        let want: [UInt8] = indices.flatMap { (row: [Int]) -> [UInt8] in row.flatMap { palette[$0] } }

        let eight = makeBMP(width: width, height: height, bitCount: 8, palette: palette, rows: indices.map { $0.map(UInt8.init) })
        XCTAssertEqual(try RGBImage(decoding: eight).pixels, want)
        let v4 = makeBMP(width: width, height: height, bitCount: 8, headerSize: 108, topDown: true, palette: palette,
                         rows: indices.map { $0.map(UInt8.init) })
        XCTAssertEqual(try RGBImage(decoding: v4).pixels, want)
        let core = makeBMP(width: width, height: height, bitCount: 8, headerSize: 12, palette: palette, paletteEntrySize: 3,
                           rows: indices.map { $0.map(UInt8.init) })
        XCTAssertEqual(try RGBImage(decoding: core).pixels, want)

        // 4 bits: two pixels per byte, high nibble first.
        let nibbles: [[UInt8]] = indices.map { (row: [Int]) -> [UInt8] in
            stride(from: 0, to: row.count, by: 2).map { (i: Int) -> UInt8 in
                let low = i + 1 < row.count ? row[i + 1] : 0
                return UInt8(row[i] << 4 | low)
            }
        }
        XCTAssertEqual(try RGBImage(decoding: makeBMP(width: width, height: height, bitCount: 4, palette: palette, rows: nibbles)).pixels, want)

        // 1 bit: most significant bit first.
        let mono: [[UInt8]] = [[0, 0, 0], [255, 255, 255]]
        let bits: [[Int]] = [[1, 0, 1, 1, 0], [0, 0, 0, 0, 1], [1, 1, 1, 1, 1]]
        let packed: [[UInt8]] = bits.map { (row: [Int]) -> [UInt8] in
            var byte = 0
            for (i, bit) in row.enumerated() { byte |= bit << (7 - i) }
            return [UInt8(byte)]
        }
        let decoded = try RGBImage(decoding: makeBMP(width: width, height: height, bitCount: 1, palette: mono, rows: packed))
        let wantMono: [UInt8] = bits.flatMap { (row: [Int]) -> [UInt8] in row.flatMap { mono[$0] } }
        XCTAssertEqual(decoded.pixels, wantMono)
    }

    func testIndicesPastAShortPaletteAreBlack() throws {
        let palette: [[UInt8]] = [[10, 20, 30], [40, 50, 60]]
        let image = try RGBImage(decoding: makeBMP(width: 3, height: 1, bitCount: 8, palette: palette, rows: [[1, 7, 0]]))
        XCTAssertEqual(image.pixels, [40, 50, 60, 0, 0, 0, 10, 20, 30])
    }

    func testCompressedAndMalformedVariantsAreRejected() {
        let bgr = rows { [$0[2], $0[1], $0[0]] }
        for (compression, word) in [(UInt32(1), "RLE8"), (2, "RLE4"), (4, "JPEG"), (5, "PNG")] {
            let file = makeBMP(width: width, height: height, bitCount: compression == 2 ? 4 : 8, compression: compression,
                               palette: [[0, 0, 0]], rows: bgr.map { Array($0.prefix(4)) })
            guard case let .unsupported(.bmp, message)? = assertImageError(try RGBImage(decoding: file)) else {
                XCTFail("compression \(compression)"); continue
            }
            XCTAssertTrue(message.contains(word), message)
        }
        // Masks with a 24-bit image are inconsistent; 2 bits per pixel does not exist.
        let masked = makeBMP(width: width, height: height, bitCount: 24, compression: 3, masks: [0xFF, 0xFF00, 0xFF_0000], rows: bgr)
        guard case .corrupt(.bmp, _)? = assertImageError(try RGBImage(decoding: masked)) else { return XCTFail("masks on 24-bit") }
        let twoBit = makeBMP(width: width, height: height, bitCount: 2, palette: [[0, 0, 0]], rows: bgr.map { Array($0.prefix(2)) })
        guard case .unsupported(.bmp, _)? = assertImageError(try RGBImage(decoding: twoBit)) else { return XCTFail("2-bit") }
        // An unknown header size.
        var odd = makeBMP(width: width, height: height, bitCount: 24, rows: bgr)
        odd[14] = 20
        guard case let .unsupported(.bmp, message)? = assertImageError(try RGBImage(decoding: odd)) else { return XCTFail("header") }
        XCTAssertEqual(message, "unknown header size 20")
        // A pixel offset past the end of the file.
        var far = makeBMP(width: width, height: height, bitCount: 24, rows: bgr)
        far.replaceSubrange(10..<14, with: [0xFF, 0xFF, 0x00, 0x00])
        guard case .corrupt(.bmp, _)? = assertImageError(try RGBImage(decoding: far)) else { return XCTFail("offset") }
    }
}
