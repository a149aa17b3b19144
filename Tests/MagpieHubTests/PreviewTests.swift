import Foundation
import HTTPTypes
import HummingbirdTesting
import MagpieEngine
import MagpieModel
import MagpieTestSupport
import MagpieVision
import NIOCore
import XCTest

@testable import MagpieHub

/// "Try it": `POST .../versions/{v}/predict` runs the engine with `magpie classify`'s preprocessing in a bounded
/// worker pool.
final class PreviewTests: XCTestCase {
    /// The real uint8 MobileNetV2 says macaw for the parrot, with exactly the scores `ImageClassifier` gives
    /// locally with the metadata's normalisation and labels (what `magpie classify` does).
    func testClassifiesTheParrotExactlyAsMagpieClassify() async throws {
        let modelPath = try TestData.model("mobilenet_v2_1.0_224_quant.tflite")
        let imagePath = try TestData.image("parrot.jpg")
        let modelBytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: modelPath)))
        let image = try [UInt8](Data(contentsOf: URL(fileURLWithPath: imagePath)))
        let hub = try await TestHub.make(maxUploadSize: 16 << 20)
        defer { hub.remove() }
        let output = try await hub.test { client in
            let token = try await client.account("ada")
            let published = try await client.publish("ada/mnv2", modelBytes, token: token)
            XCTAssertEqual(published.status, .created, published.text)
            let r = try await client.predict("ada/mnv2", bytes: image)
            XCTAssertEqual(r.status, .ok, r.text)
            return try r.decode(Preview.Output.self)
        }
        XCTAssertEqual(output.task, "classification")
        XCTAssertEqual(output.top?.count, 5)
        XCTAssertTrue(output.top?.first?.label?.lowercased().contains("macaw") ?? false, "\(output.top ?? [])")
        XCTAssertGreaterThan(output.latencyMs.inference, 0)

        let model = try Model(contentsOfFile: modelPath)
        let interpreter = try Interpreter(model: model)
        try interpreter.allocateTensors()
        let normalization = (try? model.metadata())??.inputNormalization(0).map { InputNormalization(mean: $0.mean, std: $0.std) }
        let classifier = try ImageClassifier(runner: interpreter, labels: try model.labels(forOutput: 0),
                                             normalization: normalization)
        let local = try classifier.classify(try RGBImage(contentsOfFile: imagePath), topK: 5)
        XCTAssertEqual(output.top?.map(\.index), local.classes.map(\.index))
        XCTAssertEqual(output.top?.map(\.score), local.classes.map(\.score))
        XCTAssertEqual(output.top?.map(\.label), local.classes.map(\.label))
    }

    /// A segmentation output ([1, H, W, C]) gives the class map and the share of each class; multipart bodies work.
    func testSegmentationMapFromAMultipartUpload() async throws {
        let hub = try await TestHub.make()
        defer { hub.remove() }
        try await hub.test { client in
            let token = try await client.account("ada")
            let published = try await client.publish("ada/seg", TestModels.segmenter(winner: 2), token: token)
            XCTAssertEqual(published.status, .created, published.text)
            let boundary = "----magpie-test-boundary"
            var body = Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n".utf8)
            body += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"image\"; filename=\"x.bmp\"\r\nContent-Type: image/bmp\r\n\r\n".utf8)
            body += TestModels.bmp(width: 10, height: 6)
            body += Array("\r\n--\(boundary)--\r\n".utf8)
            let r = try await client.predict("ada/seg", version: "1", bytes: body,
                                      contentType: "multipart/form-data; boundary=\(boundary)")
            XCTAssertEqual(r.status, .ok, r.text)
            let out = try r.decode(Preview.Output.self)
            XCTAssertEqual(out.task, "segmentation")
            XCTAssertEqual(out.imageWidth, 10)
            XCTAssertEqual(out.imageHeight, 6)
            XCTAssertEqual(out.classMap?.width, 4)
            XCTAssertEqual(out.classMap?.height, 4)
            XCTAssertEqual(out.classMap.flatMap { Data(base64Encoded: $0.data) }.map { [UInt8]($0) },
                           [UInt8](repeating: 2, count: 16))
            XCTAssertEqual(out.areas?.map(\.index), [2])
            XCTAssertEqual(out.areas?.first?.fraction, 1)
            XCTAssertNil(out.top)
        }
    }

    func testCorruptImagesAre422WithTheDecodersMessage() async throws {
        let hub = try await TestHub.make()
        defer { hub.remove() }
        try await hub.test { client in
            let token = try await client.account("ada")
            _ = try await client.publish("ada/seg", TestModels.segmenter(), token: token)
            // A JPEG start-of-image marker followed by garbage.
            let jpeg: [UInt8] = [0xFF, 0xD8, 0xFF, 0xE0] + [UInt8](repeating: 0x42, count: 64)
            let r = try await client.predict("ada/seg", bytes: jpeg)
            XCTAssertEqual(r.status, .unprocessableContent, r.text)
            XCTAssertEqual(r.headers[.contentType], "application/problem+json")
            XCTAssertEqual(r.problem?.title, "Not a readable image")
            XCTAssertTrue(r.problem?.detail?.hasPrefix("corrupt JPEG") ?? false, r.text)
            let text = try await client.predict("ada/seg", bytes: Array("not an image at all".utf8), contentType: "text/plain")
            XCTAssertEqual(text.status, .unprocessableContent)
            XCTAssertEqual(text.problem?.detail, ImageError.unsupportedFormat.description)
            let empty = try await client.predict("ada/seg", bytes: [])
            XCTAssertEqual(empty.status, .badRequest)
        }
    }

    /// Models that are not image models (output rank 2 but input not an image) are refused with a reason.
    func testNonImageModelsAre422() async throws {
        let hub = try await TestHub.make()
        defer { hub.remove() }
        try await hub.test { client in
            let token = try await client.account("ada")
            _ = try await client.publish("ada/adder", TestModels.add(), token: token)
            let r = try await client.predict("ada/adder", bytes: TestModels.bmp(width: 4, height: 4))
            XCTAssertEqual(r.status, .unprocessableContent, r.text)
            XCTAssertEqual(r.problem?.title, "Not an image model")
        }
    }

    func testOversizedImagesArePrivateModelsAndMissingVersionsAreRefused() async throws {
        let hub = try await TestHub.make { $0.maxPreviewImageSize = 1000 }
        defer { hub.remove() }
        try await hub.test { client in
            let token = try await client.account("ada")
            _ = try await client.publish("ada/seg", TestModels.segmenter(), token: token)
            let big = try await client.predict("ada/seg", bytes: TestModels.bmp(width: 100, height: 100))
            XCTAssertEqual(big.status, .contentTooLarge)
            let missing = try await client.predict("ada/seg", version: "9", bytes: TestModels.bmp(width: 4, height: 4))
            XCTAssertEqual(missing.status, .notFound)
            let hide = try await client.send(.put, "/api/models/ada/seg", token: token, json: #"{"visibility":"private"}"#)
            XCTAssertEqual(hide.status, .ok, hide.text)
            let anonymous = try await client.predict("ada/seg", bytes: TestModels.bmp(width: 4, height: 4))
            XCTAssertEqual(anonymous.status, .notFound)
        }
    }

    /// With every worker busy and the queue full, the API answers 503 with Retry-After at once.
    func testBusyPoolAnswers503WithRetryAfter() async throws {
        let hub = try await TestHub.make { $0.previewWorkers = 1; $0.previewQueueBound = 0 }
        defer { hub.remove() }
        let started = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0)
        let blocker = Task { try await hub.service.previews.run { _ in started.signal(); release.wait() } }
        await withCheckedContinuation { c in DispatchQueue.global().async { started.wait(); c.resume() } }
        try await hub.test { client in
            let token = try await client.account("ada")
            _ = try await client.publish("ada/seg", TestModels.segmenter(), token: token)
            let r = try await client.predict("ada/seg", bytes: TestModels.bmp(width: 4, height: 4))
            XCTAssertEqual(r.status, .serviceUnavailable, r.text)
            XCTAssertEqual(r.headers[.retryAfter], "\(HubService.previewRetryAfterSeconds)")
            release.signal()
            try await blocker.value
            let again = try await client.predict("ada/seg", bytes: TestModels.bmp(width: 4, height: 4))
            XCTAssertEqual(again.status, .ok, again.text)
        }
    }

    /// The pool accepts one job per worker plus the queue bound, then refuses; finished jobs free their place.
    func testPoolBound() async throws {
        let pool = PreviewPool(workers: 2, queueBound: 1)
        let release = DispatchSemaphore(value: 0)
        let started = DispatchSemaphore(value: 0)
        var tasks: [Task<Int, any Error>] = []
        for i in 0..<3 {
            tasks.append(Task { try await pool.run { _ in started.signal(); release.wait(); return i } })
        }
        // Both workers run a job; the third waits in the queue.
        await withCheckedContinuation { c in DispatchQueue.global().async { started.wait(); started.wait(); c.resume() } }
        while pool.waiting < 1 { try await Task.sleep(for: .milliseconds(5)) }
        do {
            _ = try await pool.run { _ in 99 }
            XCTFail("a fourth job was accepted")
        } catch is PreviewPool.Busy {}
        for _ in 0..<3 { release.signal() }
        var results: [Int] = []
        for t in tasks { results.append(try await t.value) }
        XCTAssertEqual(results, [0, 1, 2])
        let after = try await pool.run { _ in 7 }
        XCTAssertEqual(after, 7)
    }

    func testMultipartParsing() throws {
        let body = Array("preamble\r\n--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nAAA\r\n--b\r\nContent-Disposition: form-data; name=\"image\"; filename=\"p.jpg\"\r\n\r\n\r\n\u{1}\r\n--b--\r\n".utf8)
        XCTAssertEqual(try PreviewUpload.imageBytes(contentType: "multipart/form-data; boundary=b", body: body), [13, 10, 1])
        XCTAssertThrowsError(try PreviewUpload.imageBytes(contentType: "multipart/form-data", body: body))
        XCTAssertEqual(try PreviewUpload.imageBytes(contentType: "image/png", body: [1, 2]), [1, 2])
    }
}

extension TestClientProtocol {
    /// `POST /api/models/{model}/versions/{version}/predict` with a raw body.
    func predict(_ model: String, version: String = "latest", bytes: [UInt8],
                 contentType: String = "image/jpeg") async throws -> TestResponse {
        try await executeRequest(uri: "/api/models/\(model)/versions/\(version)/predict", method: .post,
                                 headers: [.contentType: contentType], body: ByteBuffer(bytes: bytes))
    }
}
