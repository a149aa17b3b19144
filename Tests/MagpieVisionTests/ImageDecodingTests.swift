import Foundation
import XCTest
@testable import MagpieVision
import MagpieTestSupport

final class ImageDecodingTests: XCTestCase {
    /// The shared JPEG, BMP and PNG images decode to exactly Pillow's pixels.
    func testSharedImagesMatchPillow() throws {
        for ref in PILReference.images {
            let image = try RGBImage(contentsOfFile: try TestData.image(ref.name))
            XCTAssertEqual(image.width, ref.width, ref.name)
            XCTAssertEqual(image.height, ref.height, ref.name)
            XCTAssertEqual(image.pixels.reduce(0) { $0 + Int($1) }, ref.sum, ref.name)
            XCTAssertEqual(fnv1a64(image.pixels), ref.fnv, "\(ref.name): pixels differ from Pillow's")
            for p in ref.pixels {
                let px = image.pixel(x: p.x, y: p.y)
                XCTAssertEqual([px.r, px.g, px.b], p.rgb, "\(ref.name) at (\(p.x), \(p.y))")
            }
        }
    }

    /// Every PNG colour type and bit depth, and grey, CMYK, progressive and subsampled JPEGs, match Pillow.
    func testColourTypesAndBitDepthsMatchPillow() throws {
        XCTAssertGreaterThanOrEqual(PILReference.samples.count, 17)
        for sample in PILReference.samples {
            let file = base64(sample.file)
            let image: RGBImage
            do {
                image = try RGBImage(decoding: file)
            } catch {
                XCTFail("\(sample.name): \(error)")
                continue
            }
            XCTAssertEqual(image.width, sample.width, sample.name)
            XCTAssertEqual(image.height, sample.height, sample.name)
            let expected = base64(sample.rgb)
            XCTAssertEqual(image.pixels.count, expected.count, sample.name)
            let differing = zip(image.pixels, expected).filter { $0 != $1 }.count
            XCTAssertEqual(differing, 0, "\(sample.name): \(differing) bytes differ from \(sample.note)")
            XCTAssertEqual(ImageFormat.detect(file), sample.name.hasPrefix("png") ? .png : .jpeg, sample.name)
        }
    }

    func testBytesAndFileGiveTheSameImage() throws {
        let path = try TestData.image("parrot.jpg")
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let fromFile = try RGBImage(contentsOfFile: path)
        XCTAssertEqual(try RGBImage(decoding: data), fromFile)
        XCTAssertEqual(try RGBImage(decoding: [UInt8](data)), fromFile)
        XCTAssertEqual(try [UInt8](data).withUnsafeBytes { try RGBImage.decode($0) }, fromFile)
    }

    /// The format comes from the bytes: a JPEG named .png and a BMP named .jpg still decode.
    func testFormatComesFromMagicBytesNotTheName() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("magpie-vision-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let jpeg = base64(PILReference.samples.first { $0.name == "jpeg_444" }!.file)
        let bmp = makeBMP(width: 2, height: 1, bitCount: 24, rows: [[1, 2, 3, 4, 5, 6]])
        try Data(jpeg).write(to: dir.appendingPathComponent("photo.png"))
        try Data(bmp).write(to: dir.appendingPathComponent("tiny.jpg"))
        XCTAssertEqual(try RGBImage(contentsOfFile: dir.appendingPathComponent("photo.png").path).width, 21)
        XCTAssertEqual(try RGBImage(contentsOfFile: dir.appendingPathComponent("tiny.jpg").path).pixels, [3, 2, 1, 6, 5, 4])
        XCTAssertEqual(ImageFormat.detect(jpeg), .jpeg)
        XCTAssertEqual(ImageFormat.detect(bmp), .bmp)
        XCTAssertNil(ImageFormat.detect([0x47, 0x49, 0x46, 0x38, 0x39, 0x61]))  // GIF89a
    }

    func testLimitsAreCheckedFromTheHeader() throws {
        let path = try TestData.image("parrot.jpg")  // 512x929
        let limits = ImageLimits(maxSide: 600)
        let error = assertImageError(try RGBImage(contentsOfFile: path, limits: limits))
        XCTAssertEqual(error, .tooLarge(width: 512, height: 929, limits: limits))
        let pixelLimit = ImageLimits(maxSide: 1000, maxPixels: 512 * 929 - 1)
        XCTAssertEqual(assertImageError(try RGBImage(contentsOfFile: path, limits: pixelLimit)),
                       .tooLarge(width: 512, height: 929, limits: pixelLimit))
        XCTAssertEqual(try RGBImage(contentsOfFile: path, limits: ImageLimits(maxSide: 929, maxPixels: 512 * 929)).height, 929)
        for name in ["cat.bmp", "dog_segmentation_256.png"] {
            let e = assertImageError(try RGBImage(contentsOfFile: try TestData.image(name), limits: ImageLimits(maxSide: 100)))
            guard case .tooLarge = e else { return XCTFail("\(name): \(String(describing: e))") }
        }
    }

    func testMissingFileIsAnImageError() {
        let e = assertImageError(try RGBImage(contentsOfFile: "/nonexistent/magpie/none.jpg"))
        guard case let .unreadableFile(path, reason)? = e else { return XCTFail("\(String(describing: e))") }
        XCTAssertEqual(path, "/nonexistent/magpie/none.jpg")
        XCTAssertFalse(reason.isEmpty)
        XCTAssertTrue(e!.description.hasPrefix("cannot read image file '/nonexistent/magpie/none.jpg'"))
    }

    func testLimitsArithmetic() {
        let l = ImageLimits.default
        XCTAssertEqual(l.maxSide, 32768)
        XCTAssertEqual(l.maxPixels, 1 << 28)
        XCTAssertTrue(l.allows(width: 32768, height: 8192))
        XCTAssertFalse(l.allows(width: 32768, height: 8193))
        XCTAssertFalse(l.allows(width: 32769, height: 1))
        XCTAssertFalse(ImageLimits(maxSide: Int.max, maxPixels: Int.max).allows(width: Int(Int32.max), height: Int(Int32.max) + 1))
    }
}
