import Foundation
import HummingbirdTesting
import XCTest

@testable import MagpieHub

/// Search, likes, follows, feeds and benchmarks through the HTTP API.
final class APITests: XCTestCase {
    func testSearchLikesFeedAtomAndBenchmarks() async throws {
        let hub = try await TestHub.make()
        defer { hub.remove() }
        try await hub.test { client in
            let ada = try await client.account("ada")
            let bob = try await client.account("bob")
            _ = try await client.send(.put, "/api/models/ada/birds", token: ada,
                                      json: #"{"description":"Classifies **birds**","task":"image-classification","tags":["vision"]}"#)
            try await client.publish("ada/birds", TestModels.add(seed: 1), token: ada)
            try await client.publish("ada/adder", TestModels.add(seed: 2), token: ada)

            let found = try await client.send(.get, "/api/models?q=bird&task=image-classification").decode(API.SearchOut.self)
            XCTAssertEqual(found.models.map(\.name), ["birds"])
            let byOp = try await client.send(.get, "/api/models?op=add&precision=float32&per_page=1")
            let page = try byOp.decode(API.SearchOut.self)
            XCTAssertEqual(page.total, 2)
            XCTAssertEqual(page.models.count, 1)
            let badSort = try await client.send(.get, "/api/models?sort=random")
            XCTAssertEqual(badSort.status, .badRequest)

            let like = try await client.send(.post, "/api/models/ada/birds/like", token: bob).decode(API.StateOut.self)
            XCTAssertEqual(like.likes, 1)
            let popular = try await client.send(.get, "/api/models?sort=likes").decode(API.SearchOut.self)
            XCTAssertEqual(popular.models.first?.name, "birds")

            do { let r = try await client.send(.post, "/api/users/ada/subscription", token: bob); XCTAssertEqual(r.status, .ok) }
            try await client.publish("ada/birds", TestModels.add(seed: 3), token: ada)
            let feed = try await client.send(.get, "/api/feed", token: bob).decode(API.FeedOut.self)
            XCTAssertEqual(feed.items.map { "\($0.model.name)@\($0.version.number)" }, ["birds@2", "adder@1", "birds@1"])
            do { let r = try await client.send(.get, "/api/feed"); XCTAssertEqual(r.status, .unauthorized) }

            let atom = try await client.send(.get, "/api/models/ada/birds/feed.atom")
            XCTAssertEqual(atom.headers[.contentType], "application/atom+xml; charset=utf-8")
            XCTAssertTrue(atom.text.contains("<title>ada/birds v2</title>"), atom.text)

            let bench = """
                {"schema":"magpie-bench/1","created":"2026-01-01T00:00:00Z","agreements":[],"warnings":[],
                 "results":[{"id":"magpie/birds/t1","runtime":{"name":"magpie","version":"0.1","configuration":"optimized"},
                 "threads":1,"fps":250.5,"latency":{"medianMs":3.9},"fingerprint":{"name":"box","cpuModel":"EPYC","architecture":"x86_64"}}]}
                """
            let posted = try await client.send(.post, "/api/models/ada/birds/benchmarks", token: bob, json: bench)
            XCTAssertEqual(posted.status, .created, posted.text)
            let wrong = try await client.send(.post, "/api/models/ada/birds/benchmarks", token: bob,
                                              json: #"{"schema":"other/1","results":[]}"#)
            XCTAssertEqual(wrong.status, .unprocessableContent)
            let malformed = try await client.send(.post, "/api/models/ada/birds/benchmarks", token: bob, json: "{")
            XCTAssertEqual(malformed.status, .badRequest)
            // A second machine with a hostile name and an energy figure: the page shows the per-model leaderboard, the
            // table and the three charts, everything escaped.
            let hostile = """
                {"schema":"magpie-bench/1","results":[{"runtime":{"name":"magpie"},"threads":2,"fps":40,
                 "energy":{"fpsPerWatt":3.25},"fingerprint":{"name":"<script>alert(1)</script>"}}]}
                """
            let posted2 = try await client.send(.post, "/api/models/ada/birds/benchmarks", token: bob, json: hostile)
            XCTAssertEqual(posted2.status, .created, posted2.text)
            let listed = try await client.send(.get, "/api/models/ada/birds/benchmarks").decode(API.BenchmarksOut.self)
            XCTAssertEqual(listed.results.compactMap(\.fpsPerWatt), [3.25])
            let modelPage = try await client.send(.get, "/models/ada/birds").text
            XCTAssertFalse(modelPage.contains("<script>alert"), "device names are escaped")
            XCTAssertTrue(modelPage.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
            XCTAssertTrue(modelPage.contains("<h3>Leaderboard</h3>"))
            XCTAssertEqual(modelPage.components(separatedBy: "<svg").count - 1, 3, "fps linear, fps log, fps per watt")
            XCTAssertTrue(modelPage.contains("Efficiency (higher is better)"))
            let board = try await client.send(.get, "/api/leaderboard?device=EPYC%20(x86_64)").decode(API.LeaderboardOut.self)
            XCTAssertEqual(board.entries.map(\.model.name), ["birds"])
            XCTAssertEqual(board.entries.first?.best.version, 2)
            let fastest = try await client.send(.get, "/api/models?sort=fastest&device=EPYC%20(x86_64)").decode(API.SearchOut.self)
            XCTAssertEqual(fastest.models.first?.name, "birds")

            let page404 = try await client.send(.get, "/api/nothing-here")
            XCTAssertEqual(page404.status, .notFound)
            XCTAssertEqual(page404.headers[.contentType], "application/problem+json")
        }
    }
}
