import Foundation
import XCTest
@testable import MagpieVision
import MagpieTestSupport

/// Damaged, truncated, hostile and random inputs must produce an `ImageError`, never a crash or an
/// out-of-bounds read.
final class CorruptInputTests: XCTestCase {
    private func sample(_ name: String) -> [UInt8] { base64(PILReference.samples.first { $0.name == name }!.file) }

    func testEmptyInput() {
        XCTAssertEqual(assertImageError(try RGBImage(decoding: [UInt8]())), .empty)
        XCTAssertEqual(assertImageError(try RGBImage(decoding: Data())), .empty)
        XCTAssertEqual(ImageError.empty.description, "empty image data")
    }

    func testRandomBytesAreAnUnsupportedFormat() {
        var rng = SplitMix64(seed: 42)
        for _ in 0..<200 {
            var bytes = (0..<Int.random(in: 1...300, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            bytes[0] = UInt8.random(in: 0...0x41, using: &rng)  // not 0xFF, 0x89 or 'B'
            let e = assertImageError(try RGBImage(decoding: bytes))
            XCTAssertEqual(e, .unsupportedFormat)
        }
        XCTAssertEqual(ImageError.unsupportedFormat.description, "unsupported image format (not JPEG, PNG or BMP)")
        // The bare magic numbers are not images.
        XCTAssertEqual(assertImageError(try RGBImage(decoding: [0xFF, 0xD8, 0xFF])),
                       .corrupt(.jpeg, "Premature end of JPEG file"))
        guard case .corrupt(.png, _)? = assertImageError(try RGBImage(decoding: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])) else {
            return XCTFail("bare PNG signature")
        }
        guard case .corrupt(.bmp, _)? = assertImageError(try RGBImage(decoding: [0x42, 0x4D])) else { return XCTFail("bare BM") }
    }

    func testRandomDataAfterAMagicNumberIsCorrupt() {
        var rng = SplitMix64(seed: 7)
        let magics: [(ImageFormat, [UInt8])] = [(.jpeg, [0xFF, 0xD8, 0xFF]), (.png, [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]),
                                                (.bmp, [0x42, 0x4D])]
        for (format, magic) in magics {
            for _ in 0..<100 {
                let bytes = magic + (0..<Int.random(in: 0...500, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                do {
                    let image = try RGBImage(decoding: bytes, limits: ImageLimits(maxSide: 2048, maxPixels: 1 << 20))
                    XCTFail("\(format): random bytes decoded to \(image.width)x\(image.height)")
                } catch let e as ImageError {
                    switch e {
                    case let .corrupt(f, message), let .unsupported(f, message):
                        XCTAssertEqual(f, format)
                        XCTAssertFalse(message.isEmpty)
                    case .tooLarge: break
                    default: XCTFail("\(format): \(e)")
                    }
                } catch { XCTFail("\(error)") }
            }
        }
    }

    func testTruncatedJPEGs() throws {
        for name in ["jpeg_444", "jpeg_420", "jpeg_progressive", "jpeg_gray", "jpeg_cmyk_adobe"] {
            let file = sample(name)
            // Every cut fails, down to a missing EOI marker (the decoder's look-ahead runs out), as in Pillow.
            for length in 0..<file.count {
                let cut = Array(file[..<length])
                guard let error = assertImageError(try RGBImage(decoding: cut), "\(name) cut to \(length)") else { continue }
                if length >= 3 {
                    guard case .corrupt(.jpeg, _) = error else { return XCTFail("\(name) cut to \(length): \(error)") }
                }
            }
            XCTAssertEqual(try RGBImage(decoding: file + [0x00, 0x11]).width, 21, "\(name) with trailing bytes")
        }
        // Last, as it needs the shared data: half of a real photo.
        let parrot = try readFile(try TestData.image("parrot.jpg"))
        let e = assertImageError(try RGBImage(decoding: Array(parrot[..<(parrot.count / 2)])))
        XCTAssertEqual(e, .corrupt(.jpeg, "Premature end of JPEG file"))
        XCTAssertEqual(e?.description, "corrupt JPEG: Premature end of JPEG file")
    }

    func testTruncatedPNGs() throws {
        for name in ["png_rgb8_interlaced", "png_rgba16", "png_pal8_trns", "png_gray1"] {
            let file = sample(name)
            // The trailing 12 bytes are the IEND chunk, which the decoder does not need.
            for length in 0..<(file.count - 12) {
                let e = assertImageError(try RGBImage(decoding: Array(file[..<length])), "\(name) cut to \(length)")
                if length >= 8, let e, case .corrupt(.png, _) = e {} else if length >= 8 {
                    XCTFail("\(name) cut to \(length): \(String(describing: e))")
                }
            }
        }
        let real = try readFile(try TestData.image("dog_segmentation_256.png"))
        XCTAssertEqual(assertImageError(try RGBImage(decoding: Array(real[..<(real.count / 3)]))),
                       .corrupt(.png, "Premature end of PNG file"))
    }

    func testPNGChecksumErrors() {
        var file = sample("png_rgb8_interlaced")
        file[20] ^= 0x01  // inside IHDR's width field: the chunk CRC no longer matches
        guard case let .corrupt(.png, message)? = assertImageError(try RGBImage(decoding: file)) else { return XCTFail() }
        XCTAssertTrue(message.contains("CRC"), message)
        var data = sample("png_gray8")
        data[data.count - 20] ^= 0xFF  // inside the IDAT payload
        guard case .corrupt(.png, _)? = assertImageError(try RGBImage(decoding: data)) else { return XCTFail() }
    }

    func testTruncatedBMPs() {
        let rows: [[UInt8]] = (0..<4).map { (y: Int) -> [UInt8] in (0..<15).map { (x: Int) -> UInt8 in UInt8((x * 17 + y * 31) % 256) } }
        let file = makeBMP(width: 5, height: 4, bitCount: 24, rows: rows)
        XCTAssertEqual(try RGBImage(decoding: file).width, 5)
        // The last stored row may lack its padding byte; anything shorter is truncated.
        for length in 0..<(file.count - 1) {
            let e = assertImageError(try RGBImage(decoding: Array(file[..<length])), "cut to \(length)")
            if length >= 2, let e, case .corrupt(.bmp, _) = e {} else if length >= 2 {
                XCTFail("cut to \(length): \(String(describing: e))")
            }
        }
        let palette = makeBMP(width: 3, height: 2, bitCount: 8, palette: [[1, 2, 3], [4, 5, 6]], rows: [[0, 1, 0], [1, 0, 1]])
        for length in 2..<(palette.count - 1) {
            assertImageError(try RGBImage(decoding: Array(palette[..<length])), "palette BMP cut to \(length)")
        }
    }

    func testHugeDimensionsAreRefusedBeforeAllocating() throws {
        let limits = ImageLimits.default
        // BMP: 40000 wide, and 20000x20000 (over 2^28 pixels); the file holds no pixel data at all.
        var bmp = makeBMP(width: 1, height: 1, bitCount: 24, rows: [[0, 0, 0]])
        bmp.replaceSubrange(18..<22, with: withUnsafeBytes(of: Int32(40000).littleEndian, Array.init))
        XCTAssertEqual(assertImageError(try RGBImage(decoding: bmp)), .tooLarge(width: 40000, height: 1, limits: limits))
        bmp.replaceSubrange(18..<26, with: withUnsafeBytes(of: Int32(20000).littleEndian, Array.init) + withUnsafeBytes(of: Int32(-20000).littleEndian, Array.init))
        XCTAssertEqual(assertImageError(try RGBImage(decoding: bmp)), .tooLarge(width: 20000, height: 20000, limits: limits))
        bmp.replaceSubrange(22..<26, with: withUnsafeBytes(of: Int32.min.littleEndian, Array.init))
        XCTAssertEqual(assertImageError(try RGBImage(decoding: bmp)), .tooLarge(width: 20000, height: 2_147_483_648, limits: limits))

        // PNG: IHDR rewritten to 100000x100000 with a valid CRC.
        var png = sample("png_gray8")
        png.replaceSubrange(16..<24, with: [0x00, 0x01, 0x86, 0xA0, 0x00, 0x01, 0x86, 0xA0])
        let crc = crc32(png[12..<29])
        png.replaceSubrange(29..<33, with: [UInt8(crc >> 24), UInt8((crc >> 16) & 0xFF), UInt8((crc >> 8) & 0xFF), UInt8(crc & 0xFF)])
        XCTAssertEqual(assertImageError(try RGBImage(decoding: png)), .tooLarge(width: 100_000, height: 100_000, limits: limits))

        // JPEG: the SOF frame header rewritten to 60000x60000.
        var jpeg = sample("jpeg_444")
        let sof = try XCTUnwrap((0..<(jpeg.count - 1)).first { jpeg[$0] == 0xFF && jpeg[$0 + 1] == 0xC0 })
        jpeg.replaceSubrange((sof + 5)..<(sof + 9), with: [0xEA, 0x60, 0xEA, 0x60])
        XCTAssertEqual(assertImageError(try RGBImage(decoding: jpeg)), .tooLarge(width: 60000, height: 60000, limits: limits))
        XCTAssertEqual(ImageError.tooLarge(width: 60000, height: 60000, limits: limits).description,
                       "image of 60000x60000 pixels is over the limit (32768 per side, 268435456 pixels)")
    }

    func testZeroSizedImages() {
        var bmp = makeBMP(width: 1, height: 1, bitCount: 24, rows: [[0, 0, 0]])
        bmp.replaceSubrange(18..<22, with: [0, 0, 0, 0])
        guard case .corrupt(.bmp, _)? = assertImageError(try RGBImage(decoding: bmp)) else { return XCTFail() }
        bmp.replaceSubrange(18..<22, with: withUnsafeBytes(of: Int32(-3).littleEndian, Array.init))
        guard case .corrupt(.bmp, _)? = assertImageError(try RGBImage(decoding: bmp)) else { return XCTFail() }
        var png = sample("png_gray8")
        png.replaceSubrange(16..<20, with: [0, 0, 0, 0])
        let crc = crc32(png[12..<29])
        png.replaceSubrange(29..<33, with: [UInt8(crc >> 24), UInt8((crc >> 16) & 0xFF), UInt8((crc >> 8) & 0xFF), UInt8(crc & 0xFF)])
        guard case .corrupt(.png, _)? = assertImageError(try RGBImage(decoding: png)) else { return XCTFail() }
        var jpeg = sample("jpeg_444")
        let sof = (0..<(jpeg.count - 1)).first { jpeg[$0] == 0xFF && jpeg[$0 + 1] == 0xC0 }!
        jpeg.replaceSubrange((sof + 5)..<(sof + 7), with: [0, 0])
        guard case .corrupt(.jpeg, _)? = assertImageError(try RGBImage(decoding: jpeg)) else { return XCTFail() }
    }

    /// Random byte flips, insertions and cuts of valid files: each either decodes or throws an `ImageError`.
    func testMutatedFilesNeverCrash() {
        var rng = SplitMix64(seed: 2026)
        let bases = ["png_rgb8_interlaced", "png_pal8_trns", "png_rgba16", "jpeg_444", "jpeg_progressive", "jpeg_cmyk_adobe"].map(sample)
            + [makeBMP(width: 5, height: 3, bitCount: 8, headerSize: 124, palette: (0..<4).map { (i: Int) -> [UInt8] in [UInt8(i * 60), 9, 200] },
                       rows: (0..<3).map { (y: Int) -> [UInt8] in (0..<5).map { (x: Int) -> UInt8 in UInt8((x + y) % 6) } }),
               makeBMP(width: 4, height: 2, bitCount: 32, headerSize: 108, compression: 3,
                       masks: [0xFF0000, 0xFF00, 0xFF, 0xFF00_0000], rows: [[UInt8]](repeating: Array(0..<16), count: 2))]
        let limits = ImageLimits(maxSide: 4096, maxPixels: 1 << 22)
        // MAGPIE_FUZZ_ITERATIONS raises the count for a longer run (under the address sanitizer, say).
        let iterations = ProcessInfo.processInfo.environment["MAGPIE_FUZZ_ITERATIONS"].flatMap(Int.init) ?? 150
        var decoded = 0, failed = 0
        for base in bases {
            for _ in 0..<iterations {
                var bytes = base
                for _ in 0..<Int.random(in: 1...4, using: &rng) {
                    let i = Int.random(in: 0..<bytes.count, using: &rng)
                    switch Int.random(in: 0..<4, using: &rng) {
                    case 0: bytes[i] ^= UInt8(1 << Int.random(in: 0..<8, using: &rng))
                    case 1: bytes[i] = UInt8.random(in: 0...255, using: &rng)
                    case 2: bytes.insert(UInt8.random(in: 0...255, using: &rng), at: i)
                    default: bytes.removeSubrange(i..<min(bytes.count, i + Int.random(in: 1...64, using: &rng)))
                    }
                    if bytes.isEmpty { break }
                }
                do {
                    let image = try RGBImage(decoding: bytes, limits: limits)
                    XCTAssertEqual(image.pixels.count, image.width * image.height * 3)
                    XCTAssertTrue(limits.allows(width: image.width, height: image.height))
                    decoded += 1
                } catch is ImageError {
                    failed += 1
                } catch {
                    XCTFail("not an ImageError: \(error)")
                }
            }
        }
        XCTAssertEqual(decoded + failed, bases.count * iterations)
        XCTAssertGreaterThan(failed, 0)
    }

    func testErrorDescriptions() {
        XCTAssertEqual(ImageError.corrupt(.png, "IDAT: CRC error").description, "corrupt PNG: IDAT: CRC error")
        XCTAssertEqual(ImageError.unsupported(.bmp, "RLE8-compressed bitmaps are not supported").description,
                       "unsupported BMP: RLE8-compressed bitmaps are not supported")
        XCTAssertEqual(ImageError.outOfMemory(.jpeg).description, "not enough memory to decode the JPEG image")
    }
}
