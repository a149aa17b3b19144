import Foundation

/// Why a repository call failed, in terms the HTTP layer maps to a status.
public enum StoreError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A unique name is taken (user name, `owner/name`).
    case conflict(String)
    /// A referenced row does not exist.
    case notFound(String)
    /// The database said something unexpected (connection, SQL); the message names it.
    case backend(String)

    public var description: String {
        switch self {
        case let .conflict(s): return "conflict: \(s)"
        case let .notFound(s): return "not found: \(s)"
        case let .backend(s): return "database error: \(s)"
        }
    }
}

/// Accounts.
public protocol UserRepository: Sendable {
    /// Creates an account. - Throws: `StoreError.conflict` when the name is taken.
    func createUser(name: String, passwordHash: String) async throws -> User
    func user(named name: String) async throws -> User?
    func user(id: Int64) async throws -> User?
}

/// Browser sessions (hashed cookie secrets).
public protocol SessionRepository: Sendable {
    func createSession(_ session: Session) async throws
    /// The session with this hash if it has not expired at `now`.
    func session(tokenHash: String, now: Date) async throws -> Session?
    func deleteSession(tokenHash: String) async throws
    /// Removes sessions that expired before `now`; returns how many.
    @discardableResult func deleteExpiredSessions(now: Date) async throws -> Int
}

/// Personal API tokens (hashed).
public protocol TokenRepository: Sendable {
    func createToken(userID: Int64, label: String, tokenHash: String) async throws -> APIToken
    func token(hash: String) async throws -> APIToken?
    func tokens(userID: Int64) async throws -> [APIToken]
    /// Deletes a token of this user; false when there was none.
    func deleteToken(id: Int64, userID: Int64) async throws -> Bool
}

/// Models and their cards.
public protocol ModelRepository: Sendable {
    /// - Throws: `StoreError.conflict` when `owner/name` exists.
    func createModel(ownerID: Int64, name: String, card: ModelCard) async throws -> ModelRecord
    func model(owner: String, name: String) async throws -> ModelRecord?
    func model(id: Int64) async throws -> ModelRecord?
    func updateCard(modelID: Int64, card: ModelCard) async throws
    /// Full-text search, filters, sort and pagination (`ModelQuery`). Private models appear only to their owner.
    func searchModels(_ query: ModelQuery) async throws -> ModelPage
}

/// Immutable versions.
public protocol VersionRepository: Sendable {
    /// Records a version whose blob is already durable in the blob store, in one transaction: the number is the
    /// model's next one, the blob row is inserted if new, the model's latest version and search index are updated.
    func addVersion(_ version: NewVersion) async throws -> VersionRecord
    func versions(modelID: Int64) async throws -> [VersionRecord]
    func version(modelID: Int64, number: Int) async throws -> VersionRecord?
    /// Counts one download of a version (and of its model).
    func recordDownload(versionID: Int64) async throws
    /// Every blob digest any version refers to (for the startup consistency check).
    func referencedBlobs() async throws -> Set<String>
}

/// Likes (one per user and model).
public protocol LikeRepository: Sendable {
    /// Returns false when the like already existed.
    @discardableResult func like(userID: Int64, modelID: Int64) async throws -> Bool
    @discardableResult func unlike(userID: Int64, modelID: Int64) async throws -> Bool
    func hasLiked(userID: Int64, modelID: Int64) async throws -> Bool
}

/// Follows of models and publishers, and the feed they make.
public protocol SubscriptionRepository: Sendable {
    @discardableResult func subscribe(userID: Int64, to target: SubscriptionTarget) async throws -> Bool
    @discardableResult func unsubscribe(userID: Int64, from target: SubscriptionTarget) async throws -> Bool
    func isSubscribed(userID: Int64, to target: SubscriptionTarget) async throws -> Bool
    /// New versions of followed models and of models by followed publishers that the user may see, newest first.
    func feed(userID: Int64, limit: Int, offset: Int) async throws -> [FeedItem]
}

/// Benchmark results.
public protocol BenchmarkRepository: Sendable {
    func addBenchmarks(_ results: [BenchmarkRecord]) async throws
    func benchmarks(modelID: Int64) async throws -> [BenchmarkRecord]
    /// The best fps per public model on one device (or on any device when nil), fastest first.
    func leaderboard(device: String?, limit: Int) async throws -> [(model: ModelRecord, best: BenchmarkRecord)]
}

/// Everything the hub stores in its database. SQLite (`SQLiteStore`) and PostgreSQL (`PostgresStore`) implement it
/// and pass the same test suite.
public protocol HubStore: UserRepository, SessionRepository, TokenRepository, ModelRepository, VersionRepository,
    LikeRepository, SubscriptionRepository, BenchmarkRepository
{
    /// Applies pending migrations (named, ordered).
    func migrate() async throws
    /// Closes connections.
    func shutdown() async throws
}
