import Foundation
import HummingbirdTesting
import MagpieModel
import MagpieZoo
import XCTest

@testable import MagpieHub

/// Publishing versions: validation by the engine, limits, names, authorization, deduplication.
final class UploadTests: XCTestCase {
    func testPublishExtractsFactsAndStoresTheBlobByHash() async throws {
        let hub = try await TestHub.make()
        defer { hub.remove() }
        let bytes = TestModels.add(seed: 1)
        try await hub.test { client in
            let token = try await client.account("ada")
            let r = try await client.publish("ada/adder", bytes, token: token)
            XCTAssertEqual(r.status, .created, r.text)
            let out = try r.decode(API.PublishOut.self)
            XCTAssertEqual(out.version.number, 1)
            XCTAssertEqual(out.version.sha256, Secrets.sha256Hex(bytes: bytes))
            XCTAssertEqual(out.version.size, Int64(bytes.count))
            XCTAssertEqual(out.version.facts.precision, "float32")
            XCTAssertEqual(out.version.facts.operators, ["ADD": 1])
            XCTAssertEqual(out.version.facts.inputs.first?.shape, [1, 4])
            // ADD's constant operand is not a weight (ModelStatistics counts weight and bias slots only).
            XCTAssertEqual(out.version.facts.parameters, 0)
            XCTAssertEqual(out.version.facts.multiplyAccumulates, 0)
            XCTAssertEqual(r.headers[.location], "/api/models/ada/adder/versions/1")
            let path = hub.service.blobs.path(for: out.version.sha256)
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), Data(bytes))
            XCTAssertTrue(try hub.service.blobs.verify(out.version.sha256))
        }
    }

    /// Parameters and MACs come from MagpieModel's `ModelStatistics`: the built-in MobileNetV2's documented figures.
    func testFactsUseModelStatistics() throws {
        let bytes = try BuiltinModels.mobileNetV2(precision: .float32)
        let model = try Model(data: bytes)
        let facts = ModelInspection.facts(of: model, size: Int64(bytes.count))
        let statistics = ModelStatistics(model: model)
        XCTAssertEqual(facts.parameters, 3_489_097)
        XCTAssertEqual(facts.multiplyAccumulates, 300_775_552)
        XCTAssertEqual(facts.parameters, Int64(statistics.parameterCount))
        XCTAssertEqual(facts.operators, statistics.operatorHistogram)
        XCTAssertEqual(facts.operators["CONV_2D"], 36)
    }

    func testCorruptAndNonTFLiteFilesAreRefusedWithTheEnginesMessage() async throws {
        let hub = try await TestHub.make()
        defer { hub.remove() }
        try await hub.test { client in
            let token = try await client.account("ada")
            let text = try await client.publish("ada/x", Array("hello, I am not a model".utf8), token: token)
            XCTAssertEqual(text.status, .unprocessableContent)
            XCTAssertEqual(text.headers[.contentType], "application/problem+json")
            XCTAssertEqual(text.problem?.status, 422)
            XCTAssertNotNil(text.problem?.detail, "the engine's message is the detail")

            var truncated = TestModels.add()
            truncated.removeLast(truncated.count / 2)
            let cut = try await client.publish("ada/x", truncated, token: token)
            XCTAssertEqual(cut.status, .unprocessableContent, cut.text)

            let unsupported = try await client.publish("ada/x", TestModels.unsupported(), token: token)
            XCTAssertEqual(unsupported.status, .unprocessableContent)
            XCTAssertTrue(unsupported.problem?.detail?.contains("not supported") ?? false, unsupported.text)

            let empty = try await client.publish("ada/x", [], token: token)
            XCTAssertEqual(empty.status, .unprocessableContent)
        }
        XCTAssertEqual(try hub.service.blobs.allDigests(), [], "nothing refused reaches the store")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: "\(hub.directory)/store/tmp")
        XCTAssertEqual(leftovers, [], "temporary files are removed")
        let model = try await hub.service.store.model(owner: "ada", name: "x")
        XCTAssertNil(model, "no model is created for a refused upload")
    }

    func testOversizedUploadsAreRefused() async throws {
        let hub = try await TestHub.make(maxUploadSize: 300)
        defer { hub.remove() }
        try await hub.test { client in
            let token = try await client.account("ada")
            let big = TestModels.add(size: 256)
            XCTAssertGreaterThan(big.count, 300)
            let r = try await client.publish("ada/big", big, token: token)
            XCTAssertEqual(r.status, .contentTooLarge, r.text)
            XCTAssertEqual(r.problem?.status, 413)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: "\(hub.directory)/store/tmp"), [])
    }

    func testHostileNamesAreRefused() async throws {
        let hub = try await TestHub.make()
        defer { hub.remove() }
        try await hub.test { client in
            let token = try await client.account("ada")
            for name in ["..", "..%2Fx", "%2E%2E", ".hidden", "a..b", "UPPER", "sp%20ace", String(repeating: "x", count: 65)] {
                let r = try await client.publish("ada/\(name)", TestModels.add(), token: token)
                XCTAssertTrue([.badRequest, .notFound].contains(r.status), "\(name): \(r.status) \(r.text)")
            }
            let bad = try await client.send(.post, "/api/users", json: #"{"name":"../etc","password":"long enough"}"#)
            XCTAssertEqual(bad.status, .badRequest)
        }
        XCTAssertEqual(try hub.service.blobs.allDigests(), [])
        XCTAssertFalse(Names.isValid("../x"))
        XCTAssertFalse(Names.isValid("a/b"))
        XCTAssertFalse(Names.isValid(""))
        XCTAssertTrue(Names.isValid("mobilenet_v2-1.0"))
    }

    func testWritesNeedAnOwner() async throws {
        let hub = try await TestHub.make()
        defer { hub.remove() }
        try await hub.test { client in
            let ada = try await client.account("ada")
            let bob = try await client.account("bob")
            let anonymous = try await client.send(.post, "/api/models/ada/m/versions", bytes: TestModels.add())
            XCTAssertEqual(anonymous.status, .unauthorized)
            XCTAssertNotNil(anonymous.headers[.wwwAuthenticate])
            let badToken = try await client.publish("ada/m", TestModels.add(), token: "mgp_nonsense")
            XCTAssertEqual(badToken.status, .unauthorized)
            do { let r = try await client.publish("ada/m", TestModels.add(), token: ada); XCTAssertEqual(r.status, .created) }
            let intruder = try await client.publish("ada/m", TestModels.add(seed: 2), token: bob)
            XCTAssertEqual(intruder.status, .forbidden)
            let squat = try await client.publish("ada/new", TestModels.add(seed: 2), token: bob)
            XCTAssertEqual(squat.status, .forbidden)
            let card = try await client.send(.put, "/api/models/ada/m", token: bob, json: #"{"description":"mine now"}"#)
            XCTAssertEqual(card.status, .forbidden)
            let ownCard = try await client.send(.put, "/api/models/ada/m", token: ada,
                                                json: ##"{"description":"# Adder","tags":["math"],"task":"toy"}"##)
            XCTAssertEqual(ownCard.status, .ok, ownCard.text)
        }
    }

    func testSameBytesAreStoredOnce() async throws {
        let hub = try await TestHub.make()
        defer { hub.remove() }
        try await hub.test { client in
            let token = try await client.account("ada")
            let bytes = TestModels.add(seed: 7)
            let a = try await client.publish("ada/one", bytes, token: token).decode(API.PublishOut.self)
            let b = try await client.publish("ada/two", bytes, token: token).decode(API.PublishOut.self)
            let c = try await client.publish("ada/one", bytes, token: token).decode(API.PublishOut.self)
            XCTAssertEqual(a.version.sha256, b.version.sha256)
            XCTAssertEqual(c.version.number, 2, "a re-upload is a new immutable version")
        }
        XCTAssertEqual(try hub.service.blobs.allDigests().count, 1)
    }

    func testPrivateModelsAreInvisibleToOthers() async throws {
        let hub = try await TestHub.make()
        defer { hub.remove() }
        try await hub.test { client in
            let ada = try await client.account("ada")
            let bob = try await client.account("bob")
            _ = try await client.send(.put, "/api/models/ada/secret", token: ada, json: #"{"visibility":"private"}"#)
            try await client.publish("ada/secret", TestModels.add(), token: ada)
            do { let r = try await client.send(.get, "/api/models/ada/secret", token: ada); XCTAssertEqual(r.status, .ok) }
            do { let r = try await client.send(.get, "/api/models/ada/secret", token: bob); XCTAssertEqual(r.status, .notFound) }
            do { let r = try await client.send(.get, "/api/models/ada/secret/versions/1/file"); XCTAssertEqual(r.status, .notFound) }
            let search = try await client.send(.get, "/api/models?q=secret").decode(API.SearchOut.self)
            XCTAssertEqual(search.total, 0)
        }
    }
}
