import Foundation
import XCTest

@testable import MagpieHub

/// The behaviour every `HubStore` must have. Each backend's test class calls these with a fresh, migrated store.
enum RepositoryContract {
    static func facts(precision: String = "float32", ops: [String: Int] = ["ADD": 1], size: Int64 = 100) -> ModelFacts {
        ModelFacts(inputs: [.init(name: "x", dtype: "float32", shape: [1, 4])],
                   outputs: [.init(name: "y", dtype: "float32", shape: [1, 4])], precision: precision, operators: ops,
                   parameters: 4, multiplyAccumulates: nil, sizeBytes: size, labels: ["a", "b"])
    }

    static func digest(_ n: Int) -> String { String(repeating: String(format: "%02x", n % 256), count: 32) }

    static func users(_ store: any HubStore) async throws {
        let ada = try await store.createUser(name: "ada", passwordHash: "h1")
        XCTAssertEqual(ada.name, "ada")
        let again = try await store.user(named: "ada")
        XCTAssertEqual(again?.id, ada.id)
        XCTAssertEqual(again?.passwordHash, "h1")
        let byID = try await store.user(id: ada.id)
        XCTAssertEqual(byID?.name, "ada")
        let missing = try await store.user(named: "nobody")
        XCTAssertNil(missing)
        do {
            _ = try await store.createUser(name: "ada", passwordHash: "h2")
            XCTFail("duplicate user name accepted")
        } catch let e as StoreError {
            guard case .conflict = e else { return XCTFail("expected conflict, got \(e)") }
        }
    }

    static func sessionsAndTokens(_ store: any HubStore) async throws {
        let u = try await store.createUser(name: "bob", passwordHash: "h")
        let now = Date()
        try await store.createSession(Session(tokenHash: "s1", userID: u.id, csrfToken: "c1", createdAt: now,
                                              expiresAt: now.addingTimeInterval(60)))
        try await store.createSession(Session(tokenHash: "s2", userID: u.id, csrfToken: "c2", createdAt: now,
                                              expiresAt: now.addingTimeInterval(-1)))
        let live = try await store.session(tokenHash: "s1", now: now)
        XCTAssertEqual(live?.csrfToken, "c1")
        let expired = try await store.session(tokenHash: "s2", now: now)
        XCTAssertNil(expired, "expired sessions are not returned")
        let purged = try await store.deleteExpiredSessions(now: now)
        XCTAssertEqual(purged, 1)
        try await store.deleteSession(tokenHash: "s1")
        let gone = try await store.session(tokenHash: "s1", now: now)
        XCTAssertNil(gone)

        let t = try await store.createToken(userID: u.id, label: "cli", tokenHash: "th")
        let found = try await store.token(hash: "th")
        XCTAssertEqual(found?.id, t.id)
        XCTAssertEqual(found?.userID, u.id)
        let list = try await store.tokens(userID: u.id)
        XCTAssertEqual(list.map(\.label), ["cli"])
        let other = try await store.createUser(name: "eve", passwordHash: "h")
        let stolen = try await store.deleteToken(id: t.id, userID: other.id)
        XCTAssertFalse(stolen, "a user cannot delete another user's token")
        let deleted = try await store.deleteToken(id: t.id, userID: u.id)
        XCTAssertTrue(deleted)
        let afterDelete = try await store.token(hash: "th")
        XCTAssertNil(afterDelete)
    }

    static func modelsAndVersions(_ store: any HubStore) async throws {
        let u = try await store.createUser(name: "cy", passwordHash: "h")
        let card = ModelCard(description: "A *tiny* model", task: "image-classification", tags: ["vision", "tiny"],
                             license: "Apache-2.0", visibility: .public)
        let m = try await store.createModel(ownerID: u.id, name: "net", card: card)
        XCTAssertEqual(m.fullName, "cy/net")
        XCTAssertEqual(m.card, card)
        XCTAssertNil(m.latestVersion)
        do {
            _ = try await store.createModel(ownerID: u.id, name: "net", card: card)
            XCTFail("duplicate model accepted")
        } catch let e as StoreError {
            guard case .conflict = e else { return XCTFail("expected conflict, got \(e)") }
        }
        var edited = card
        edited.tags = ["edited"]
        edited.visibility = .private
        try await store.updateCard(modelID: m.id, card: edited)
        let reread = try await store.model(owner: "cy", name: "net")
        XCTAssertEqual(reread?.card, edited)

        let v1 = try await store.addVersion(NewVersion(modelID: m.id, sha256: digest(1), size: 100, facts: facts()))
        let v2 = try await store.addVersion(NewVersion(modelID: m.id, sha256: digest(2), size: 200, facts: facts(precision: "int8")))
        XCTAssertEqual([v1.number, v2.number], [1, 2])
        let versions = try await store.versions(modelID: m.id)
        XCTAssertEqual(versions.map(\.number), [2, 1], "newest first")
        XCTAssertEqual(versions.last?.facts, facts(), "facts round-trip")
        let latest = try await store.model(id: m.id)
        XCTAssertEqual(latest?.latestVersion, 2)
        let one = try await store.version(modelID: m.id, number: 1)
        XCTAssertEqual(one?.sha256, digest(1))
        // The same bytes in another model: one blob row, two versions.
        let other = try await store.createModel(ownerID: u.id, name: "copy", card: ModelCard())
        _ = try await store.addVersion(NewVersion(modelID: other.id, sha256: digest(1), size: 100, facts: facts()))
        let referenced = try await store.referencedBlobs()
        XCTAssertEqual(referenced, [digest(1), digest(2)])
        try await store.recordDownload(versionID: v2.id)
        try await store.recordDownload(versionID: v2.id)
        let counted = try await store.version(modelID: m.id, number: 2)
        XCTAssertEqual(counted?.downloads, 2)
        let modelCount = try await store.model(id: m.id)
        XCTAssertEqual(modelCount?.downloads, 2)
        do {
            _ = try await store.addVersion(NewVersion(modelID: 999_999, sha256: digest(3), size: 1, facts: facts()))
            XCTFail("version of a missing model accepted")
        } catch is StoreError {}
    }

    static func concurrentVersionNumbers(_ store: any HubStore) async throws {
        let u = try await store.createUser(name: "dee", passwordHash: "h")
        let m = try await store.createModel(ownerID: u.id, name: "busy", card: ModelCard())
        try await withThrowingTaskGroup(of: Int.self) { group in
            for i in 0..<8 {
                group.addTask {
                    try await store.addVersion(NewVersion(modelID: m.id, sha256: digest(i), size: 1, facts: facts())).number
                }
            }
            var numbers: [Int] = []
            for try await n in group { numbers.append(n) }
            XCTAssertEqual(numbers.sorted(), Array(1...8), "every concurrent version gets its own number")
        }
    }

    static func search(_ store: any HubStore) async throws {
        let a = try await store.createUser(name: "alice", passwordHash: "h")
        let b = try await store.createUser(name: "bruno", passwordHash: "h")
        let m1 = try await store.createModel(ownerID: a.id, name: "mobilenet-v2", card: ModelCard(
            description: "Image classifier for birds", task: "image-classification", tags: ["vision", "imagenet"]))
        let m2 = try await store.createModel(ownerID: b.id, name: "deeplab", card: ModelCard(
            description: "Segmentation of people", task: "image-segmentation", tags: ["vision"]))
        let m3 = try await store.createModel(ownerID: b.id, name: "secret-net", card: ModelCard(
            description: "Hidden classifier", task: "image-classification", visibility: .private))
        _ = try await store.addVersion(NewVersion(modelID: m1.id, sha256: digest(10), size: 1000,
                                                  facts: facts(precision: "uint8", ops: ["CONV_2D": 3, "SOFTMAX": 1])))
        _ = try await store.addVersion(NewVersion(modelID: m2.id, sha256: digest(11), size: 5000,
                                                  facts: facts(precision: "float32", ops: ["CONV_2D": 1, "RESIZE_BILINEAR": 1])))
        _ = try await store.addVersion(NewVersion(modelID: m3.id, sha256: digest(12), size: 10, facts: facts()))

        func names(_ q: ModelQuery) async throws -> [String] {
            try await store.searchModels(q).models.map(\.fullName)
        }
        let classifier = try await names(ModelQuery(text: "classif"))
        XCTAssertEqual(classifier, ["alice/mobilenet-v2"], "prefix match; private models hidden from others")
        let asOwner = try await names(ModelQuery(text: "classif", sort: .downloads, viewerID: b.id))
        XCTAssertEqual(Set(asOwner), ["alice/mobilenet-v2", "bruno/secret-net"])
        let byTag = try await names(ModelQuery(text: "imagenet"))
        XCTAssertEqual(byTag, ["alice/mobilenet-v2"], "tags are searched")
        let byOwner = try await names(ModelQuery(text: "bruno"))
        XCTAssertEqual(byOwner, ["bruno/deeplab"], "owner names are searched")
        let hostile = try await names(ModelQuery(text: "\") OR 1=1 -- NEAR("))
        XCTAssertEqual(hostile, [], "query syntax is not interpreted")
        let punctuation = try await names(ModelQuery(text: "!!!"))
        XCTAssertEqual(punctuation, [])
        let task = try await names(ModelQuery(task: "image-segmentation"))
        XCTAssertEqual(task, ["bruno/deeplab"])
        let tag = try await names(ModelQuery(tag: "vision", sort: .newest))
        XCTAssertEqual(tag, ["bruno/deeplab", "alice/mobilenet-v2"])
        let precision = try await names(ModelQuery(precision: "uint8"))
        XCTAssertEqual(precision, ["alice/mobilenet-v2"])
        let op = try await names(ModelQuery(op: "RESIZE_BILINEAR"))
        XCTAssertEqual(op, ["bruno/deeplab"])
        let small = try await names(ModelQuery(maxSize: 1000))
        XCTAssertEqual(small, ["alice/mobilenet-v2"])
        let owner = try await names(ModelQuery(owner: "bruno"))
        XCTAssertEqual(owner, ["bruno/deeplab"])

        try await store.like(userID: b.id, modelID: m2.id)
        let again = try await store.like(userID: b.id, modelID: m2.id)
        XCTAssertFalse(again, "a like counts once")
        let liked = try await names(ModelQuery(sort: .likes))
        XCTAssertEqual(liked.first, "bruno/deeplab")
        let hasLiked = try await store.hasLiked(userID: b.id, modelID: m2.id)
        XCTAssertTrue(hasLiked)
        let likeCount = try await store.model(id: m2.id)?.likes
        XCTAssertEqual(likeCount, 1)
        try await store.unlike(userID: b.id, modelID: m2.id)
        let unliked = try await store.model(id: m2.id)?.likes
        XCTAssertEqual(unliked, 0)

        let versions = try await store.versions(modelID: m1.id)
        try await store.recordDownload(versionID: versions[0].id)
        let popular = try await names(ModelQuery(sort: .downloads))
        XCTAssertEqual(popular.first, "alice/mobilenet-v2")

        let page1 = try await store.searchModels(ModelQuery(sort: .newest, limit: 1, offset: 0))
        let page2 = try await store.searchModels(ModelQuery(sort: .newest, limit: 1, offset: 1))
        XCTAssertEqual(page1.total, 2)
        XCTAssertEqual(page1.models.count, 1)
        XCTAssertNotEqual(page1.models.first?.id, page2.models.first?.id)

        try await store.addBenchmarks([
            BenchmarkRecord(id: 0, modelID: m1.id, versionNumber: 1, submitterID: a.id, device: "pi5", runtime: "magpie",
                            threads: 4, fps: 30, medianMs: 33, createdAt: Date()),
            BenchmarkRecord(id: 0, modelID: m2.id, versionNumber: 1, submitterID: a.id, device: "pi5", runtime: "magpie",
                            threads: 4, fps: 90, medianMs: 11, createdAt: Date()),
            BenchmarkRecord(id: 0, modelID: m1.id, versionNumber: 1, submitterID: a.id, device: "epyc", runtime: "magpie",
                            threads: 1, fps: 400, medianMs: 2.5, fpsPerWatt: 8.5, createdAt: Date()),
            BenchmarkRecord(id: 0, modelID: m3.id, versionNumber: 1, submitterID: b.id, device: "pi5", runtime: "magpie",
                            threads: 4, fps: 999, medianMs: 1, createdAt: Date()),
        ])
        let fastOnPi = try await names(ModelQuery(sort: .fastest, device: "pi5"))
        XCTAssertEqual(fastOnPi, ["bruno/deeplab", "alice/mobilenet-v2"])
        let board = try await store.leaderboard(device: "pi5", limit: 10)
        XCTAssertEqual(board.map(\.model.fullName), ["bruno/deeplab", "alice/mobilenet-v2"], "private models stay off the leaderboard")
        let anyDevice = try await store.leaderboard(device: nil, limit: 10)
        XCTAssertEqual(anyDevice.first?.best.fps, 400)
        let results = try await store.benchmarks(modelID: m1.id)
        XCTAssertEqual(results.count, 2)
        XCTAssertEqual(results.first { $0.device == "epyc" }?.fpsPerWatt, 8.5)
        XCTAssertNil(results.first { $0.device == "pi5" }?.fpsPerWatt)
    }

    static func subscriptionsAndFeed(_ store: any HubStore) async throws {
        let reader = try await store.createUser(name: "reader", passwordHash: "h")
        let pub = try await store.createUser(name: "pub", passwordHash: "h")
        let other = try await store.createUser(name: "other", passwordHash: "h")
        let a = try await store.createModel(ownerID: pub.id, name: "a", card: ModelCard())
        let b = try await store.createModel(ownerID: other.id, name: "b", card: ModelCard())
        let c = try await store.createModel(ownerID: other.id, name: "c", card: ModelCard())
        let hidden = try await store.createModel(ownerID: pub.id, name: "hidden", card: ModelCard(visibility: .private))
        try await store.subscribe(userID: reader.id, to: .publisher(pub.id))
        let twice = try await store.subscribe(userID: reader.id, to: .model(b.id))
        XCTAssertTrue(twice)
        let dup = try await store.subscribe(userID: reader.id, to: .model(b.id))
        XCTAssertFalse(dup)
        let subscribed = try await store.isSubscribed(userID: reader.id, to: .model(b.id))
        XCTAssertTrue(subscribed)
        for (i, m) in [a, b, c, hidden, a].enumerated() {
            _ = try await store.addVersion(NewVersion(modelID: m.id, sha256: digest(20 + i), size: 1, facts: facts()))
        }
        let feed = try await store.feed(userID: reader.id, limit: 10, offset: 0)
        XCTAssertEqual(feed.map { "\($0.model.fullName)@\($0.version.number)" }, ["pub/a@2", "other/b@1", "pub/a@1"],
                       "followed model and publisher, newest first, without others' private models")
        try await store.unsubscribe(userID: reader.id, from: .publisher(pub.id))
        let after = try await store.feed(userID: reader.id, limit: 10, offset: 0)
        XCTAssertEqual(after.map(\.model.fullName), ["other/b"])
    }
}
