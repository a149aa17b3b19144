import Foundation
import XCTest
@testable import MagpieVision
import MagpieModel
import MagpieTestSupport

final class ResizeTests: XCTestCase {
    /// Downscaling, upscaling, mixed and one-axis resizes of a test pattern equal Pillow's, byte for byte.
    func testPatternResizesMatchPillowExactly() throws {
        for r in PILReference.resizes {
            let source = testPattern(width: r.width, height: r.height)
            let label = "\(r.width)x\(r.height) -> \(r.toWidth)x\(r.toHeight)"
            let bilinear = try source.resized(width: r.toWidth, height: r.toHeight, filter: .bilinear)
            XCTAssertEqual(bilinear.width, r.toWidth)
            XCTAssertEqual(bilinear.height, r.toHeight)
            XCTAssertEqual(fnv1a64(bilinear.pixels), r.bilinear, "bilinear \(label)")
            let nearest = try source.resized(width: r.toWidth, height: r.toHeight, filter: .nearest)
            XCTAssertEqual(fnv1a64(nearest.pixels), r.nearest, "nearest \(label)")
        }
    }

    func testRealImageResizesMatchPillowExactly() throws {
        for r in PILReference.imageResizes {
            let image = try RGBImage(contentsOfFile: try TestData.image(r.name))
            let resized = try image.resized(width: r.width, height: r.height)
            XCTAssertEqual(fnv1a64(resized.pixels), r.fnv, "\(r.name) -> \(r.width)x\(r.height)")
        }
    }

    /// Decode + resize + fill reproduces the exact input tensors LiteRT was fed for the goldens.
    func testPreprocessingReproducesGoldenInputTensors() throws {
        let cases: [(model: String, image: String, case: String)] = [
            ("mobilenet_v2_1.0_224_quant", "parrot.jpg", "parrot"), ("mobilenet_v2_1.0_224_quant", "cat.bmp", "cat"),
            ("mobilenet_v1_0.25_128_quant", "grace_hopper.bmp", "grace_hopper"), ("tf2_mobilenet_v2_1.0_224_ptq", "bird.bmp", "bird"),
            ("mobilenet_v2_1.0_224_float", "parrot.jpg", "parrot"), ("mobilenet_v1_0.25_128_float", "bird.bmp", "bird"),
            ("deeplabv3_mnv2_dm05_pascal_quant", "cat.bmp", "cat"),
        ]
        for c in cases {
            let folder = try goldenCase(c.model, c.case)
            let json = try goldenJSON(folder)
            let input = try XCTUnwrap((json["inputs"] as? [[String: Any]])?.first)
            let shape = try XCTUnwrap(input["shape"] as? [Int])
            let type: TensorType = try XCTUnwrap(["uint8": .uint8, "int8": .int8, "float32": .float32][input["dtype"] as? String ?? ""])
            let spec = TensorSpec(type: type, shape: shape)
            let golden = try Data(contentsOf: folder.appendingPathComponent("input_0.bin"))
            let (w, h) = try spec.imageSize()
            let image = try RGBImage(contentsOfFile: try TestData.image(c.image)).resized(width: w, height: h)
            var buffer = [UInt8](repeating: 0, count: golden.count)
            try buffer.withUnsafeMutableBytes { try fillInput(image, spec: spec, into: $0) }
            let differing = zip(buffer, golden).filter { $0 != $1 }.count
            XCTAssertEqual(differing, 0, "\(c.model)/\(c.case): \(differing) of \(golden.count) input bytes differ from the golden")
        }
    }

    func testSameSizeIsUnchangedAndInvalidSizesThrow() throws {
        let image = testPattern(width: 9, height: 4)
        XCTAssertEqual(try image.resized(width: 9, height: 4), image)
        XCTAssertEqual(try image.resized(width: 9, height: 4, filter: .nearest), image)
        for (w, h) in [(0, 4), (9, 0), (-1, 3)] {
            XCTAssertThrowsError(try image.resized(width: w, height: h)) { XCTAssertTrue($0 is VisionError) }
        }
        let empty = RGBImage(width: 0, height: 0, pixels: [])
        XCTAssertThrowsError(try empty.resized(width: 3, height: 3)) { XCTAssertTrue($0 is VisionError) }
    }

    /// Normalised weights keep a flat image flat at any scale, in both pass orders.
    func testConstantImageStaysConstant() throws {
        let flat = RGBImage(width: 23, height: 17, pixels: [UInt8](repeating: 0, count: 23 * 17).flatMap { _ in [200, 13, 255] as [UInt8] })
        for (w, h) in [(5, 3), (100, 2), (2, 100), (64, 64), (23, 1), (1, 17), (24, 5)] {
            for filter in ResamplingFilter.allCases {
                let out = try flat.resized(width: w, height: h, filter: filter)
                XCTAssertTrue(stride(from: 0, to: out.pixels.count, by: 3).allSatisfy {
                    out.pixels[$0] == 200 && out.pixels[$0 + 1] == 13 && out.pixels[$0 + 2] == 255
                }, "\(filter) \(w)x\(h)")
            }
        }
    }

    func testTriangleWeightsSumToOne() {
        for (input, output) in [(512, 224), (224, 512), (10, 3), (3, 10), (7, 7), (1000, 1)] {
            let weights = ResampleWeights(inputSize: input, outputSize: output)
            for i in 0..<output {
                let sum = (0..<weights.counts[i]).reduce(0) { $0 + Int(weights.weights[i * weights.windowSize + $1]) }
                // Each weight is rounded separately, so the sum may miss 2^22 by a few units.
                XCTAssertLessThanOrEqual(abs(sum - (1 << 22)), weights.counts[i], "\(input)->\(output) pixel \(i)")
                XCTAssertGreaterThanOrEqual(weights.starts[i], 0)
                XCTAssertLessThanOrEqual(weights.starts[i] + weights.counts[i], input)
            }
        }
    }
}
