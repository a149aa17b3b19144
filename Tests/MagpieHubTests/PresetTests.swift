import Foundation
import HummingbirdTesting
import MagpieZoo
import XCTest

@testable import MagpieHub

/// Preset models of the user `magpie`: `--preload DIR` with label files, and the built-in MobileNetV2.
final class PresetTests: XCTestCase {
    func testPreloadImportsModelsWithLabelFilesIdempotently() async throws {
        let hub = try await TestHub.make()
        defer { hub.remove() }
        let directory = hub.directory + "-preload"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Data(TestModels.segmenter()).write(to: URL(fileURLWithPath: "\(directory)/Seg Model.tflite"))
        try Data("sky\nsea\nsand\n".utf8).write(to: URL(fileURLWithPath: "\(directory)/Seg Model.txt"))
        try Data(TestModels.add()).write(to: URL(fileURLWithPath: "\(directory)/adder.tflite"))
        try Data("a\nb\nc\nd\n".utf8).write(to: URL(fileURLWithPath: "\(directory)/labels.txt"))
        try Data(TestModels.unsupported()).write(to: URL(fileURLWithPath: "\(directory)/bad.tflite"))

        let first = try await Presets.importModels(from: directory, into: hub.service)
        XCTAssertEqual(first, 2, "the unsupported model is skipped")
        let again = try await Presets.importModels(from: directory, into: hub.service)
        XCTAssertEqual(again, 0, "idempotent by sha256")
        let store = hub.service.store
        let seg = try await store.model(owner: "magpie", name: "seg-model")
        XCTAssertEqual(seg?.card.task, "image-segmentation")
        let segVersions = try await store.versions(modelID: try XCTUnwrap(seg).id)
        XCTAssertEqual(segVersions.first?.facts.labels, ["sky", "sea", "sand"])
        let adder = try await store.model(owner: "magpie", name: "adder")
        let adderVersions = try await store.versions(modelID: try XCTUnwrap(adder).id)
        XCTAssertEqual(adderVersions.first?.facts.labels, ["a", "b", "c", "d"])
        let bad = try await store.model(owner: "magpie", name: "bad")
        XCTAssertNil(bad)

        // The label file names the classes of try-it answers.
        try await hub.test { client in
            let r = try await client.predict("magpie/seg-model", bytes: TestModels.bmp(width: 4, height: 4))
            XCTAssertEqual(r.status, .ok, r.text)
            XCTAssertEqual(try r.decode(Preview.Output.self).areas?.first?.label, "sand")
        }
    }

    /// The float32 built-in MobileNetV2 (the uint8 one is built the same way but calibrates first, too slow for a
    /// debug test): imported once, its card says the weights are not pretrained, try-it answers five classes.
    func testBuiltinMobileNetIsImportedOnceAndSaysItIsNotPretrained() async throws {
        let hub = try await TestHub.make(maxUploadSize: 64 << 20)
        defer { hub.remove() }
        let names = ["mobilenet_v2_1.0_224"]
        let first = try await Presets.importBuiltinModels(into: hub.service, names: names)
        XCTAssertEqual(first, 1)
        let again = try await Presets.importBuiltinModels(into: hub.service, names: names)
        XCTAssertEqual(again, 0)
        let model = try await hub.service.store.model(owner: "magpie", name: "mobilenet_v2_1.0_224")
        XCTAssertTrue(model?.card.description.contains("**The weights are NOT pretrained.**") ?? false)
        XCTAssertTrue(model?.card.tags.contains("not-pretrained") ?? false)
        XCTAssertEqual(model?.card.visibility, .public)
        try await hub.test { client in
            let page = try await client.send(.get, "/models/magpie/mobilenet_v2_1.0_224").text
            XCTAssertTrue(page.contains("The weights are NOT pretrained."), page)
            let r = try await client.predict("magpie/mobilenet_v2_1.0_224", bytes: TestModels.bmp(width: 32, height: 32))
            XCTAssertEqual(r.status, .ok, r.text)
            let top = try r.decode(Preview.Output.self).top
            XCTAssertEqual(top?.count, 5)
            XCTAssertTrue(top?.allSatisfy { $0.label == "class \($0.index)" } ?? false)
        }
    }
}
