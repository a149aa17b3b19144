import Foundation
import XCTest

@testable import MagpieHub

/// The repository contract against SQLite (a fresh file per test).
final class SQLiteRepositoryTests: XCTestCase {
    private var directory = ""

    override func setUp() {
        directory = NSTemporaryDirectory() + "magpie-sqlite-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    private func store() async throws -> SQLiteStore {
        let store = try SQLiteStore(path: "\(directory)/hub.sqlite")
        try await store.migrate()
        return store
    }

    func testMigrationsAreNamedOrderedAndIdempotent() async throws {
        let s = try await store()
        try await s.migrate()
        let applied = try await s.appliedMigrations()
        XCTAssertEqual(applied, ["v1-accounts", "v1-models", "v1-social", "v2-bench-energy"])
    }

    func testJournalIsWAL() async throws {
        let s = try await store()
        _ = try await s.createUser(name: "wal", passwordHash: "h")
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(directory)/hub.sqlite-wal"))
    }

    func testUsers() async throws { try await RepositoryContract.users(try await store()) }
    func testSessionsAndTokens() async throws { try await RepositoryContract.sessionsAndTokens(try await store()) }
    func testModelsAndVersions() async throws { try await RepositoryContract.modelsAndVersions(try await store()) }
    func testConcurrentVersionNumbers() async throws { try await RepositoryContract.concurrentVersionNumbers(try await store()) }
    func testSearch() async throws { try await RepositoryContract.search(try await store()) }
    func testSubscriptionsAndFeed() async throws { try await RepositoryContract.subscriptionsAndFeed(try await store()) }
}
