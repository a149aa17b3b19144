import Foundation
import HummingbirdTesting
import XCTest

@testable import MagpieHub

/// Downloads: ETag, If-None-Match, single ranges, counts.
final class DownloadTests: XCTestCase {
    func testETagConditionalAndRanges() async throws {
        let hub = try await TestHub.make()
        defer { hub.remove() }
        let bytes = TestModels.add(seed: 3)
        let sha = Secrets.sha256Hex(bytes: bytes)
        try await hub.test { client in
            let token = try await client.account("ada")
            try await client.publish("ada/m", bytes, token: token)
            let url = "/api/models/ada/m/versions/1/file"

            let full = try await client.send(.get, url)
            XCTAssertEqual(full.status, .ok)
            XCTAssertEqual(Array(full.body.readableBytesView), bytes)
            XCTAssertEqual(full.headers[.eTag], "\"\(sha)\"")
            XCTAssertEqual(full.headers[.acceptRanges], "bytes")
            XCTAssertEqual(full.headers[.cacheControl], "public, max-age=31536000, immutable")

            let latest = try await client.send(.get, "/api/models/ada/m/versions/latest/file")
            XCTAssertEqual(latest.status, .ok)
            XCTAssertEqual(latest.headers[.cacheControl], "public, no-cache")

            let notModified = try await client.send(.get, url, headers: [.ifNoneMatch: "\"other\", \"\(sha)\""])
            XCTAssertEqual(notModified.status, .notModified)
            XCTAssertEqual(notModified.body.readableBytes, 0)
            let star = try await client.send(.get, url, headers: [.ifNoneMatch: "*"])
            XCTAssertEqual(star.status, .notModified)
            let changed = try await client.send(.get, url, headers: [.ifNoneMatch: "\"other\""])
            XCTAssertEqual(changed.status, .ok)

            let part = try await client.send(.get, url, headers: [.range: "bytes=4-11"])
            XCTAssertEqual(part.status, .partialContent)
            XCTAssertEqual(Array(part.body.readableBytesView), Array(bytes[4...11]))
            XCTAssertEqual(part.headers[.contentRange], "bytes 4-11/\(bytes.count)")

            let suffix = try await client.send(.get, url, headers: [.range: "bytes=-5"])
            XCTAssertEqual(Array(suffix.body.readableBytesView), Array(bytes.suffix(5)))
            let open = try await client.send(.get, url, headers: [.range: "bytes=10-"])
            XCTAssertEqual(Array(open.body.readableBytesView), Array(bytes[10...]))
            let clamped = try await client.send(.get, url, headers: [.range: "bytes=0-999999"])
            XCTAssertEqual(clamped.status, .partialContent)
            XCTAssertEqual(clamped.body.readableBytes, bytes.count)

            let beyond = try await client.send(.get, url, headers: [.range: "bytes=\(bytes.count)-"])
            XCTAssertEqual(beyond.status, .rangeNotSatisfiable)
            XCTAssertEqual(beyond.headers[.contentRange], "bytes */\(bytes.count)")

            let multi = try await client.send(.get, url, headers: [.range: "bytes=0-1,4-5"])
            XCTAssertEqual(multi.status, .ok, "several ranges get the whole file")
            let staleIfRange = try await client.send(.get, url, headers: [.range: "bytes=0-1", .ifRange: "\"old\""])
            XCTAssertEqual(staleIfRange.status, .ok)

            let head = try await client.send(.head, url)
            XCTAssertEqual(head.status, .ok)
            XCTAssertEqual(head.headers[.contentLength], "\(bytes.count)")

            let missing = try await client.send(.get, "/api/models/ada/m/versions/9/file")
            XCTAssertEqual(missing.status, .notFound)
            XCTAssertEqual(missing.problem?.status, 404)
            let bad = try await client.send(.get, "/api/models/ada/m/versions/x/file")
            XCTAssertEqual(bad.status, .badRequest)

            // Counted: full GETs (full, latest, changed, multi, staleIfRange) and the range from byte 0 (clamped).
            let info = try await client.send(.get, "/api/models/ada/m/versions/1").decode(API.VersionOut.self)
            XCTAssertEqual(info.downloads, 6)
        }
    }

    func testByteRangeParsing() {
        XCTAssertEqual(ByteRange.parse("bytes=0-0", size: 10), .range(0...0))
        XCTAssertEqual(ByteRange.parse("bytes=-20", size: 10), .range(0...9))
        XCTAssertEqual(ByteRange.parse("bytes=-0", size: 10), .unsatisfiable)
        XCTAssertEqual(ByteRange.parse("bytes=5-2", size: 10), ByteRange.none)
        XCTAssertEqual(ByteRange.parse("items=0-1", size: 10), ByteRange.none)
        XCTAssertEqual(ByteRange.parse("bytes=a-b", size: 10), ByteRange.none)
        XCTAssertEqual(ByteRange.parse("bytes=0-", size: 0), .unsatisfiable)
    }
}
