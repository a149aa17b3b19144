import Foundation
import XCTest

@testable import MagpieHub

/// The repository contract against a real PostgreSQL, when `MAGPIE_TEST_POSTGRES_URL` names one
/// (`export MAGPIE_TEST_POSTGRES_URL=$(scripts/start-postgres.sh)`). Each test starts from empty tables.
final class PostgresRepositoryTests: XCTestCase {
    private var stores: [PostgresStore] = []

    private func store() async throws -> PostgresStore {
        guard let url = ProcessInfo.processInfo.environment["MAGPIE_TEST_POSTGRES_URL"], !url.isEmpty else {
            throw XCTSkip("MAGPIE_TEST_POSTGRES_URL is not set: run scripts/start-postgres.sh and export its URL to test PostgresStore")
        }
        let store = try PostgresStore(url: url)
        stores.append(store)
        try await store.dropEverything()
        try await store.migrate()
        return store
    }

    override func tearDown() async throws {
        for store in stores { try await store.shutdown() }
        stores = []
    }

    func testMigrationsAreNamedOrderedAndIdempotent() async throws {
        let s = try await store()
        try await s.migrate()
        let applied = try await s.appliedMigrations()
        XCTAssertEqual(applied, ["v1-accounts", "v1-models", "v1-social", "v2-bench-energy"])
    }

    func testUsers() async throws { try await RepositoryContract.users(try await store()) }
    func testSessionsAndTokens() async throws { try await RepositoryContract.sessionsAndTokens(try await store()) }
    func testModelsAndVersions() async throws { try await RepositoryContract.modelsAndVersions(try await store()) }
    func testConcurrentVersionNumbers() async throws { try await RepositoryContract.concurrentVersionNumbers(try await store()) }
    func testSearch() async throws { try await RepositoryContract.search(try await store()) }
    func testSubscriptionsAndFeed() async throws { try await RepositoryContract.subscriptionsAndFeed(try await store()) }
}
