import Foundation
import XCTest
@testable import MagpieVision
import MagpieTestSupport

/// FNV-1a 64 of a byte sequence (the same hash `make_reference.py` computes over Pillow's output).
func fnv1a64<S: Sequence>(_ bytes: S) -> UInt64 where S.Element == UInt8 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in bytes { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
    return h
}

/// The test pattern `(x*7 + y*13 + c*50 + (x*y % 17)*9) % 256` that `make_reference.py` resizes with Pillow.
func testPattern(width: Int, height: Int) -> RGBImage {
    var p = [UInt8](repeating: 0, count: width * height * 3)
    for y in 0..<height {
        for x in 0..<width {
            for c in 0..<3 {
                p[(y * width + x) * 3 + c] = UInt8((x * 7 + y * 13 + c * 50 + (x * y) % 17 * 9) % 256)
            }
        }
    }
    return RGBImage(width: width, height: height, pixels: p)
}

/// CRC-32 (as PNG chunks use it), bitwise.
func crc32(_ bytes: some Sequence<UInt8>) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for b in bytes {
        crc ^= UInt32(b)
        for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
    }
    return ~crc
}

func base64(_ s: String) -> [UInt8] { [UInt8](Data(base64Encoded: s)!) }

func readFile(_ path: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) }

/// Little-endian byte writer for building BMP files in tests.
struct LEWriter {
    var bytes: [UInt8] = []
    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u16(_ v: UInt16) { bytes += [UInt8(v & 0xFF), UInt8(v >> 8)] }
    mutating func u32(_ v: UInt32) { for i in 0..<4 { bytes.append(UInt8((v >> (8 * UInt32(i))) & 0xFF)) } }
    mutating func i32(_ v: Int32) { u32(UInt32(bitPattern: v)) }
    mutating func zeros(_ n: Int) { bytes += [UInt8](repeating: 0, count: n) }
}

/// Writes a BMP the way the format is documented: 14-byte file header, a DIB header of `headerSize` bytes
/// (12, 40, 108 or 124), optional bit-field masks, palette, then rows padded to 4 bytes.
///
/// - `rows` holds each row's packed pixel bytes in top-to-bottom order; they are stored bottom-up unless `topDown`.
func makeBMP(width: Int, height: Int, bitCount: Int, headerSize: Int = 40, topDown: Bool = false,
             compression: UInt32 = 0, masks: [UInt32]? = nil, palette: [[UInt8]] = [], paletteEntrySize: Int = 4,
             rows: [[UInt8]]) -> [UInt8] {
    let stride = (width * bitCount + 31) / 32 * 4
    let masksInline = headerSize == 40 ? (masks.map { $0.count * 4 } ?? 0) : 0
    let pixelOffset = 14 + headerSize + masksInline + palette.count * paletteEntrySize
    let fileSize = pixelOffset + stride * height
    var w = LEWriter()
    w.u8(0x42); w.u8(0x4D); w.u32(UInt32(fileSize)); w.u16(0); w.u16(0); w.u32(UInt32(pixelOffset))
    if headerSize == 12 {
        w.u32(12); w.u16(UInt16(width)); w.u16(UInt16(height)); w.u16(1); w.u16(UInt16(bitCount))
    } else {
        w.u32(UInt32(headerSize)); w.i32(Int32(width)); w.i32(Int32(topDown ? -height : height))
        w.u16(1); w.u16(UInt16(bitCount)); w.u32(compression); w.u32(UInt32(stride * height))
        w.i32(2835); w.i32(2835); w.u32(UInt32(palette.count)); w.u32(0)
        if headerSize > 40 {
            let m = masks ?? [0, 0, 0]
            for i in 0..<4 { w.u32(i < m.count ? m[i] : 0) }
            w.zeros(headerSize - 56)
        } else if let masks {
            for m in masks { w.u32(m) }
        }
    }
    for entry in palette {
        w.u8(entry[2]); w.u8(entry[1]); w.u8(entry[0])
        if paletteEntrySize == 4 { w.u8(0) }
    }
    let order = topDown ? Array(0..<height) : Array((0..<height).reversed())
    for y in order {
        precondition(rows[y].count <= stride)
        w.bytes += rows[y]
        w.zeros(stride - rows[y].count)
    }
    return w.bytes
}

/// Asserts that `body` throws an `ImageError` and returns it.
@discardableResult
func assertImageError(_ body: @autoclosure () throws -> Any, _ message: String = "",
                      file: StaticString = #filePath, line: UInt = #line) -> ImageError? {
    do {
        _ = try body()
        XCTFail("expected an ImageError \(message)", file: file, line: line)
        return nil
    } catch let e as ImageError {
        return e
    } catch {
        XCTFail("expected an ImageError, got \(type(of: error)): \(error) \(message)", file: file, line: line)
        return nil
    }
}

/// SplitMix64: a small seeded generator so that fuzz cases are reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The golden case folder `golden/<model>/<case>`, skipping when the shared data is absent.
func goldenCase(_ model: String, _ name: String, file: StaticString = #filePath, line: UInt = #line) throws -> URL {
    let url = try TestData.require(file: file, line: line).appendingPathComponent("golden/\(model)/\(name)")
    guard FileManager.default.fileExists(atPath: url.appendingPathComponent("case.json").path) else {
        throw XCTSkip("golden case \(model)/\(name) is missing", file: file, line: line)
    }
    return url
}

/// The parsed `case.json` of a golden case.
func goldenJSON(_ folder: URL) throws -> [String: Any] {
    let data = try Data(contentsOf: folder.appendingPathComponent("case.json"))
    return try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
}
