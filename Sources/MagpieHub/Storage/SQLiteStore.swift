import Foundation
import GRDB

/// The hub's database in one SQLite file, through GRDB: a `DatabasePool` (WAL journal, concurrent readers, one
/// writer), migrations named and ordered with `DatabaseMigrator`, full-text search with FTS5.
///
/// ```swift
/// let store = try SQLiteStore(path: "data/hub.sqlite")
/// try await store.migrate()
/// let user = try await store.createUser(name: "ada", passwordHash: hash)
/// ```
public final class SQLiteStore: HubStore {
    private let pool: DatabasePool

    /// Opens (creating if needed) the database file.
    /// - Throws: `StoreError.backend` when the file cannot be opened.
    public init(path: String) throws {
        var config = Configuration()
        config.foreignKeysEnabled = true
        config.busyMode = .timeout(10)
        config.prepareDatabase { db in
            // Durable commits: the version row must not vanish after the client saw 201.
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        do {
            pool = try DatabasePool(path: path, configuration: config)
        } catch {
            throw StoreError.backend("cannot open SQLite database '\(path)': \(error)")
        }
    }

    /// The migrations, in order. Never edit a shipped one: add a new one.
    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1-accounts") { db in
            try db.execute(sql: """
                CREATE TABLE users (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    name TEXT NOT NULL UNIQUE,
                    password_hash TEXT NOT NULL,
                    created_at REAL NOT NULL);
                CREATE TABLE sessions (
                    token_hash TEXT PRIMARY KEY,
                    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                    csrf_token TEXT NOT NULL,
                    created_at REAL NOT NULL,
                    expires_at REAL NOT NULL);
                CREATE INDEX sessions_expiry ON sessions(expires_at);
                CREATE TABLE api_tokens (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                    label TEXT NOT NULL,
                    token_hash TEXT NOT NULL UNIQUE,
                    created_at REAL NOT NULL);
                """)
        }
        m.registerMigration("v1-models") { db in
            try db.execute(sql: """
                CREATE TABLE models (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    owner_id INTEGER NOT NULL REFERENCES users(id),
                    name TEXT NOT NULL,
                    description TEXT NOT NULL DEFAULT '',
                    task TEXT,
                    tags TEXT NOT NULL DEFAULT '[]',
                    license TEXT,
                    visibility TEXT NOT NULL CHECK (visibility IN ('public', 'private')),
                    created_at REAL NOT NULL,
                    updated_at REAL NOT NULL,
                    latest_version INTEGER,
                    downloads INTEGER NOT NULL DEFAULT 0,
                    likes INTEGER NOT NULL DEFAULT 0,
                    UNIQUE (owner_id, name));
                CREATE TABLE model_tags (
                    model_id INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
                    tag TEXT NOT NULL,
                    PRIMARY KEY (model_id, tag));
                CREATE INDEX model_tags_tag ON model_tags(tag);
                CREATE TABLE blobs (
                    sha256 TEXT PRIMARY KEY,
                    size INTEGER NOT NULL,
                    created_at REAL NOT NULL);
                CREATE TABLE versions (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    model_id INTEGER NOT NULL REFERENCES models(id),
                    number INTEGER NOT NULL,
                    sha256 TEXT NOT NULL REFERENCES blobs(sha256),
                    size INTEGER NOT NULL,
                    precision TEXT NOT NULL,
                    facts TEXT NOT NULL,
                    created_at REAL NOT NULL,
                    downloads INTEGER NOT NULL DEFAULT 0,
                    UNIQUE (model_id, number));
                CREATE TABLE version_ops (
                    version_id INTEGER NOT NULL REFERENCES versions(id),
                    op TEXT NOT NULL,
                    count INTEGER NOT NULL,
                    PRIMARY KEY (version_id, op));
                CREATE INDEX version_ops_op ON version_ops(op);
                CREATE VIRTUAL TABLE model_search USING fts5(owner, name, description, tags, tokenize = 'unicode61');
                """)
        }
        m.registerMigration("v1-social") { db in
            try db.execute(sql: """
                CREATE TABLE likes (
                    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                    model_id INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
                    created_at REAL NOT NULL,
                    PRIMARY KEY (user_id, model_id));
                CREATE TABLE subscriptions (
                    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                    kind TEXT NOT NULL CHECK (kind IN ('model', 'publisher')),
                    target_id INTEGER NOT NULL,
                    created_at REAL NOT NULL,
                    PRIMARY KEY (user_id, kind, target_id));
                CREATE TABLE benchmarks (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    model_id INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
                    version_number INTEGER,
                    submitter_id INTEGER NOT NULL REFERENCES users(id),
                    device TEXT NOT NULL,
                    runtime TEXT NOT NULL,
                    threads INTEGER NOT NULL,
                    fps REAL NOT NULL,
                    median_ms REAL,
                    created_at REAL NOT NULL);
                CREATE INDEX benchmarks_model ON benchmarks(model_id);
                CREATE INDEX benchmarks_device ON benchmarks(device, fps);
                """)
        }
        m.registerMigration("v2-bench-energy") { db in
            try db.execute(sql: "ALTER TABLE benchmarks ADD COLUMN fps_per_watt REAL")
        }
        return m
    }

    public func migrate() async throws {
        try await wrap { try Self.migrator.migrate(self.pool) }
    }

    /// The names of the applied migrations, in order (for tests and `magpie serve` logs).
    public func appliedMigrations() async throws -> [String] {
        try await pool.read { db in try Self.migrator.appliedMigrations(db) }
    }

    public func shutdown() async throws {
        try pool.close()
    }

    // MARK: - Errors

    /// Runs `body`, turning GRDB errors into `StoreError`.
    private func wrap<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let e as StoreError {
            throw e
        } catch let e as DatabaseError where e.extendedResultCode == .SQLITE_CONSTRAINT_UNIQUE
            || e.extendedResultCode == .SQLITE_CONSTRAINT_PRIMARYKEY
        {
            throw StoreError.conflict(e.message ?? "unique constraint")
        } catch {
            throw StoreError.backend("\(error)")
        }
    }

    private func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await wrap { try await pool.write(body) }
    }

    private func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await wrap { try await pool.read(body) }
    }

    private static func now() -> Double { Date().timeIntervalSince1970 }

    // MARK: - Users

    public func createUser(name: String, passwordHash: String) async throws -> User {
        let t = Self.now()
        return try await write { db in
            try db.execute(sql: "INSERT INTO users (name, password_hash, created_at) VALUES (?, ?, ?)",
                           arguments: [name, passwordHash, t])
            return User(id: db.lastInsertedRowID, name: name, passwordHash: passwordHash,
                        createdAt: Date(timeIntervalSince1970: t))
        }
    }

    public func user(named name: String) async throws -> User? {
        try await read { db in try Row.fetchOne(db, sql: "SELECT * FROM users WHERE name = ?", arguments: [name]).map(Self.user) }
    }

    public func user(id: Int64) async throws -> User? {
        try await read { db in try Row.fetchOne(db, sql: "SELECT * FROM users WHERE id = ?", arguments: [id]).map(Self.user) }
    }

    private static func user(_ r: Row) -> User {
        User(id: r["id"], name: r["name"], passwordHash: r["password_hash"],
             createdAt: Date(timeIntervalSince1970: r["created_at"]))
    }

    // MARK: - Sessions

    public func createSession(_ s: Session) async throws {
        try await write { db in
            try db.execute(sql: """
                INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at) VALUES (?, ?, ?, ?, ?)
                """, arguments: [s.tokenHash, s.userID, s.csrfToken, s.createdAt.timeIntervalSince1970,
                                 s.expiresAt.timeIntervalSince1970])
        }
    }

    public func session(tokenHash: String, now: Date) async throws -> Session? {
        try await read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM sessions WHERE token_hash = ? AND expires_at > ?",
                             arguments: [tokenHash, now.timeIntervalSince1970]).map { r in
                Session(tokenHash: r["token_hash"], userID: r["user_id"], csrfToken: r["csrf_token"],
                        createdAt: Date(timeIntervalSince1970: r["created_at"]),
                        expiresAt: Date(timeIntervalSince1970: r["expires_at"]))
            }
        }
    }

    public func deleteSession(tokenHash: String) async throws {
        try await write { db in try db.execute(sql: "DELETE FROM sessions WHERE token_hash = ?", arguments: [tokenHash]) }
    }

    @discardableResult
    public func deleteExpiredSessions(now: Date) async throws -> Int {
        try await write { db in
            try db.execute(sql: "DELETE FROM sessions WHERE expires_at <= ?", arguments: [now.timeIntervalSince1970])
            return db.changesCount
        }
    }

    // MARK: - Tokens

    public func createToken(userID: Int64, label: String, tokenHash: String) async throws -> APIToken {
        let t = Self.now()
        return try await write { db in
            try db.execute(sql: "INSERT INTO api_tokens (user_id, label, token_hash, created_at) VALUES (?, ?, ?, ?)",
                           arguments: [userID, label, tokenHash, t])
            return APIToken(id: db.lastInsertedRowID, userID: userID, label: label, tokenHash: tokenHash,
                            createdAt: Date(timeIntervalSince1970: t))
        }
    }

    public func token(hash: String) async throws -> APIToken? {
        try await read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM api_tokens WHERE token_hash = ?", arguments: [hash]).map(Self.token)
        }
    }

    public func tokens(userID: Int64) async throws -> [APIToken] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM api_tokens WHERE user_id = ? ORDER BY id", arguments: [userID])
                .map(Self.token)
        }
    }

    public func deleteToken(id: Int64, userID: Int64) async throws -> Bool {
        try await write { db in
            try db.execute(sql: "DELETE FROM api_tokens WHERE id = ? AND user_id = ?", arguments: [id, userID])
            return db.changesCount > 0
        }
    }

    private static func token(_ r: Row) -> APIToken {
        APIToken(id: r["id"], userID: r["user_id"], label: r["label"], tokenHash: r["token_hash"],
                 createdAt: Date(timeIntervalSince1970: r["created_at"]))
    }

    // MARK: - Models

    private static let modelColumns = "m.*, u.name AS owner_name"

    public func createModel(ownerID: Int64, name: String, card: ModelCard) async throws -> ModelRecord {
        let t = Self.now()
        let id: Int64 = try await write { db in
            try db.execute(sql: """
                INSERT INTO models (owner_id, name, description, task, tags, license, visibility, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [ownerID, name, card.description, card.task, Self.json(card.tags), card.license,
                                 card.visibility.rawValue, t, t])
            let id = db.lastInsertedRowID
            try Self.writeTags(db, modelID: id, tags: card.tags)
            try Self.reindex(db, modelID: id)
            return id
        }
        guard let model = try await model(id: id) else { throw StoreError.notFound("model \(id)") }
        return model
    }

    public func model(owner: String, name: String) async throws -> ModelRecord? {
        try await read { db in
            try Row.fetchOne(db, sql: """
                SELECT \(Self.modelColumns) FROM models m JOIN users u ON u.id = m.owner_id
                WHERE u.name = ? AND m.name = ?
                """, arguments: [owner, name]).map(Self.model)
        }
    }

    public func model(id: Int64) async throws -> ModelRecord? {
        try await read { db in try Self.model(db, id: id) }
    }

    private static func model(_ db: Database, id: Int64) throws -> ModelRecord? {
        try Row.fetchOne(db, sql: "SELECT \(modelColumns) FROM models m JOIN users u ON u.id = m.owner_id WHERE m.id = ?",
                         arguments: [id]).map(model)
    }

    public func updateCard(modelID: Int64, card: ModelCard) async throws {
        let t = Self.now()
        try await write { db in
            try db.execute(sql: """
                UPDATE models SET description = ?, task = ?, tags = ?, license = ?, visibility = ?, updated_at = ?
                WHERE id = ?
                """, arguments: [card.description, card.task, Self.json(card.tags), card.license,
                                 card.visibility.rawValue, t, modelID])
            guard db.changesCount == 1 else { throw StoreError.notFound("model \(modelID)") }
            try Self.writeTags(db, modelID: modelID, tags: card.tags)
            try Self.reindex(db, modelID: modelID)
        }
    }

    private static func writeTags(_ db: Database, modelID: Int64, tags: [String]) throws {
        try db.execute(sql: "DELETE FROM model_tags WHERE model_id = ?", arguments: [modelID])
        for tag in Set(tags) {
            try db.execute(sql: "INSERT INTO model_tags (model_id, tag) VALUES (?, ?)", arguments: [modelID, tag])
        }
    }

    /// Rewrites the model's full-text row (rowid = model id).
    private static func reindex(_ db: Database, modelID: Int64) throws {
        try db.execute(sql: "DELETE FROM model_search WHERE rowid = ?", arguments: [modelID])
        try db.execute(sql: """
            INSERT INTO model_search (rowid, owner, name, description, tags)
            SELECT m.id, u.name, m.name, m.description, (SELECT group_concat(tag, ' ') FROM model_tags WHERE model_id = m.id)
            FROM models m JOIN users u ON u.id = m.owner_id WHERE m.id = ?
            """, arguments: [modelID])
    }

    /// An FTS5 query that matches every word of `text` as a prefix; nil when it has no word. Words are reduced to
    /// letters and digits, so no FTS syntax can be injected.
    static func ftsPattern(_ text: String) -> String? {
        let words = SearchText.words(text)
        guard !words.isEmpty else { return nil }
        return words.map { "\"\($0)\"*" }.joined(separator: " ")
    }

    public func searchModels(_ q: ModelQuery) async throws -> ModelPage {
        var clauses = ["(m.visibility = 'public' OR m.owner_id = ?)"]
        var args: [any DatabaseValueConvertible & Sendable] = [q.viewerID ?? -1]
        if let text = q.text {
            guard let pattern = Self.ftsPattern(text) else { return ModelPage(models: [], total: 0) }
            clauses.append("m.id IN (SELECT rowid FROM model_search WHERE model_search MATCH ?)")
            args.append(pattern)
        }
        if let task = q.task { clauses.append("m.task = ?"); args.append(task) }
        if let tag = q.tag {
            clauses.append("EXISTS (SELECT 1 FROM model_tags t WHERE t.model_id = m.id AND t.tag = ?)")
            args.append(tag)
        }
        if let p = q.precision { clauses.append("lv.precision = ?"); args.append(p) }
        if let op = q.op {
            clauses.append("EXISTS (SELECT 1 FROM version_ops o WHERE o.version_id = lv.id AND o.op = ?)")
            args.append(op)
        }
        if let maxSize = q.maxSize { clauses.append("lv.size <= ?"); args.append(maxSize) }
        if let owner = q.owner { clauses.append("u.name = ?"); args.append(owner) }
        var joinSQL = """
            FROM models m JOIN users u ON u.id = m.owner_id
            LEFT JOIN versions lv ON lv.model_id = m.id AND lv.number = m.latest_version
            """
        var joinArgs: [any DatabaseValueConvertible & Sendable] = []
        let order: String
        switch q.sort {
        case .downloads: order = "m.downloads DESC, m.id DESC"
        case .likes: order = "m.likes DESC, m.id DESC"
        case .newest: order = "COALESCE(lv.created_at, m.created_at) DESC, m.id DESC"
        case .fastest:
            if let device = q.device {
                joinSQL += "\nLEFT JOIN (SELECT model_id, MAX(fps) AS best FROM benchmarks WHERE device = ? GROUP BY model_id) b ON b.model_id = m.id"
                joinArgs.append(device)
            } else {
                joinSQL += "\nLEFT JOIN (SELECT model_id, MAX(fps) AS best FROM benchmarks GROUP BY model_id) b ON b.model_id = m.id"
            }
            order = "b.best IS NULL, b.best DESC, m.id DESC"
        }
        let whereSQL = clauses.joined(separator: " AND ")
        let limit = max(0, min(q.limit, 100)), offset = max(0, q.offset)
        let allArgs = joinArgs + args
        let join = joinSQL
        return try await read { db in
            let total = try Int.fetchOne(db, sql: "SELECT COUNT(*) \(join) WHERE \(whereSQL)",
                                         arguments: StatementArguments(allArgs)) ?? 0
            let rows = try Row.fetchAll(db, sql: """
                SELECT \(Self.modelColumns) \(join) WHERE \(whereSQL) ORDER BY \(order) LIMIT ? OFFSET ?
                """, arguments: StatementArguments(allArgs + [limit, offset]))
            return ModelPage(models: rows.map(Self.model), total: total)
        }
    }

    private static func model(_ r: Row) -> ModelRecord {
        let tagsJSON: String = r["tags"]
        let tags = (try? JSONDecoder().decode([String].self, from: Data(tagsJSON.utf8))) ?? []
        let card = ModelCard(description: r["description"], task: r["task"], tags: tags, license: r["license"],
                             visibility: Visibility(rawValue: r["visibility"]) ?? .private)
        return ModelRecord(id: r["id"], ownerID: r["owner_id"], ownerName: r["owner_name"], name: r["name"], card: card,
                           createdAt: Date(timeIntervalSince1970: r["created_at"]),
                           updatedAt: Date(timeIntervalSince1970: r["updated_at"]),
                           latestVersion: r["latest_version"], downloads: r["downloads"], likes: r["likes"])
    }

    private static func json<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: (try? encoder.encode(value)) ?? Data("null".utf8), as: UTF8.self)
    }

    // MARK: - Versions

    public func addVersion(_ v: NewVersion) async throws -> VersionRecord {
        let t = Self.now()
        let factsJSON = Self.json(v.facts)
        return try await write { db in
            guard try Int.fetchOne(db, sql: "SELECT 1 FROM models WHERE id = ?", arguments: [v.modelID]) != nil else {
                throw StoreError.notFound("model \(v.modelID)")
            }
            try db.execute(sql: "INSERT INTO blobs (sha256, size, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                           arguments: [v.sha256, v.size, t])
            let number = (try Int.fetchOne(db, sql: "SELECT MAX(number) FROM versions WHERE model_id = ?",
                                           arguments: [v.modelID]) ?? 0) + 1
            try db.execute(sql: """
                INSERT INTO versions (model_id, number, sha256, size, precision, facts, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """, arguments: [v.modelID, number, v.sha256, v.size, v.facts.precision, factsJSON, t])
            let id = db.lastInsertedRowID
            for (op, count) in v.facts.operators {
                try db.execute(sql: "INSERT INTO version_ops (version_id, op, count) VALUES (?, ?, ?)",
                               arguments: [id, op, count])
            }
            try db.execute(sql: "UPDATE models SET latest_version = ?, updated_at = ? WHERE id = ?",
                           arguments: [number, t, v.modelID])
            return VersionRecord(id: id, modelID: v.modelID, number: number, sha256: v.sha256, size: v.size,
                                 facts: v.facts, createdAt: Date(timeIntervalSince1970: t), downloads: 0)
        }
    }

    public func versions(modelID: Int64) async throws -> [VersionRecord] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM versions WHERE model_id = ? ORDER BY number DESC",
                             arguments: [modelID]).map(Self.version)
        }
    }

    public func version(modelID: Int64, number: Int) async throws -> VersionRecord? {
        try await read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM versions WHERE model_id = ? AND number = ?",
                             arguments: [modelID, number]).map(Self.version)
        }
    }

    public func recordDownload(versionID: Int64) async throws {
        try await write { db in
            try db.execute(sql: "UPDATE versions SET downloads = downloads + 1 WHERE id = ?", arguments: [versionID])
            try db.execute(sql: """
                UPDATE models SET downloads = downloads + 1 WHERE id = (SELECT model_id FROM versions WHERE id = ?)
                """, arguments: [versionID])
        }
    }

    public func referencedBlobs() async throws -> Set<String> {
        try await read { db in Set(try String.fetchAll(db, sql: "SELECT DISTINCT sha256 FROM versions")) }
    }

    private static func version(_ r: Row) -> VersionRecord {
        let factsJSON: String = r["facts"]
        let size: Int64 = r["size"]
        let facts = (try? JSONDecoder().decode(ModelFacts.self, from: Data(factsJSON.utf8)))
            ?? ModelFacts(inputs: [], outputs: [], precision: r["precision"], operators: [:], parameters: nil,
                          multiplyAccumulates: nil, sizeBytes: size, labels: nil)
        return VersionRecord(id: r["id"], modelID: r["model_id"], number: r["number"], sha256: r["sha256"], size: size,
                             facts: facts, createdAt: Date(timeIntervalSince1970: r["created_at"]),
                             downloads: r["downloads"])
    }

    // MARK: - Likes

    @discardableResult
    public func like(userID: Int64, modelID: Int64) async throws -> Bool {
        let t = Self.now()
        return try await write { db in
            try db.execute(sql: "INSERT INTO likes (user_id, model_id, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                           arguments: [userID, modelID, t])
            guard db.changesCount == 1 else { return false }
            try db.execute(sql: "UPDATE models SET likes = likes + 1 WHERE id = ?", arguments: [modelID])
            return true
        }
    }

    @discardableResult
    public func unlike(userID: Int64, modelID: Int64) async throws -> Bool {
        try await write { db in
            try db.execute(sql: "DELETE FROM likes WHERE user_id = ? AND model_id = ?", arguments: [userID, modelID])
            guard db.changesCount == 1 else { return false }
            try db.execute(sql: "UPDATE models SET likes = likes - 1 WHERE id = ?", arguments: [modelID])
            return true
        }
    }

    public func hasLiked(userID: Int64, modelID: Int64) async throws -> Bool {
        try await read { db in
            try Int.fetchOne(db, sql: "SELECT 1 FROM likes WHERE user_id = ? AND model_id = ?",
                             arguments: [userID, modelID]) != nil
        }
    }

    // MARK: - Subscriptions

    private static func parts(_ t: SubscriptionTarget) -> (String, Int64) {
        switch t {
        case let .model(id): return ("model", id)
        case let .publisher(id): return ("publisher", id)
        }
    }

    @discardableResult
    public func subscribe(userID: Int64, to target: SubscriptionTarget) async throws -> Bool {
        let (kind, id) = Self.parts(target)
        let t = Self.now()
        return try await write { db in
            try db.execute(sql: """
                INSERT INTO subscriptions (user_id, kind, target_id, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING
                """, arguments: [userID, kind, id, t])
            return db.changesCount == 1
        }
    }

    @discardableResult
    public func unsubscribe(userID: Int64, from target: SubscriptionTarget) async throws -> Bool {
        let (kind, id) = Self.parts(target)
        return try await write { db in
            try db.execute(sql: "DELETE FROM subscriptions WHERE user_id = ? AND kind = ? AND target_id = ?",
                           arguments: [userID, kind, id])
            return db.changesCount == 1
        }
    }

    public func isSubscribed(userID: Int64, to target: SubscriptionTarget) async throws -> Bool {
        let (kind, id) = Self.parts(target)
        return try await read { db in
            try Int.fetchOne(db, sql: "SELECT 1 FROM subscriptions WHERE user_id = ? AND kind = ? AND target_id = ?",
                             arguments: [userID, kind, id]) != nil
        }
    }

    public func feed(userID: Int64, limit: Int, offset: Int) async throws -> [FeedItem] {
        try await read { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT v.id AS version_id, m.id AS model_id FROM versions v JOIN models m ON m.id = v.model_id
                WHERE (m.visibility = 'public' OR m.owner_id = ?)
                  AND (EXISTS (SELECT 1 FROM subscriptions s WHERE s.user_id = ? AND s.kind = 'model' AND s.target_id = m.id)
                    OR EXISTS (SELECT 1 FROM subscriptions s WHERE s.user_id = ? AND s.kind = 'publisher' AND s.target_id = m.owner_id))
                ORDER BY v.created_at DESC, v.id DESC LIMIT ? OFFSET ?
                """, arguments: [userID, userID, userID, max(0, min(limit, 100)), max(0, offset)])
            var models: [Int64: ModelRecord] = [:]
            return try rows.compactMap { r -> FeedItem? in
                let modelID: Int64 = r["model_id"], versionID: Int64 = r["version_id"]
                if models[modelID] == nil { models[modelID] = try Self.model(db, id: modelID) }
                guard let model = models[modelID],
                      let version = try Row.fetchOne(db, sql: "SELECT * FROM versions WHERE id = ?",
                                                     arguments: [versionID]).map(Self.version)
                else { return nil }
                return FeedItem(model: model, version: version)
            }
        }
    }

    // MARK: - Benchmarks

    public func addBenchmarks(_ results: [BenchmarkRecord]) async throws {
        let t = Self.now()
        try await write { db in
            for b in results {
                try db.execute(sql: """
                    INSERT INTO benchmarks (model_id, version_number, submitter_id, device, runtime, threads, fps, median_ms, fps_per_watt, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, arguments: [b.modelID, b.versionNumber, b.submitterID, b.device, b.runtime, b.threads, b.fps,
                                     b.medianMs, b.fpsPerWatt, t])
            }
        }
    }

    public func benchmarks(modelID: Int64) async throws -> [BenchmarkRecord] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM benchmarks WHERE model_id = ? ORDER BY device, fps DESC",
                             arguments: [modelID]).map(Self.benchmark)
        }
    }

    public func leaderboard(device: String?, limit: Int) async throws -> [(model: ModelRecord, best: BenchmarkRecord)] {
        let entries: [(ModelRecord, BenchmarkRecord)] = try await read { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT b.* FROM benchmarks b JOIN models m ON m.id = b.model_id
                WHERE m.visibility = 'public' AND (? IS NULL OR b.device = ?)
                  AND b.id = (SELECT b2.id FROM benchmarks b2 WHERE b2.model_id = b.model_id
                              AND (? IS NULL OR b2.device = ?) ORDER BY b2.fps DESC, b2.id LIMIT 1)
                ORDER BY b.fps DESC LIMIT ?
                """, arguments: [device, device, device, device, max(0, min(limit, 100))])
            return try rows.compactMap { r in
                let b = Self.benchmark(r)
                return try Self.model(db, id: b.modelID).map { ($0, b) }
            }
        }
        return entries.map { (model: $0.0, best: $0.1) }
    }

    private static func benchmark(_ r: Row) -> BenchmarkRecord {
        BenchmarkRecord(id: r["id"], modelID: r["model_id"], versionNumber: r["version_number"],
                        submitterID: r["submitter_id"], device: r["device"], runtime: r["runtime"],
                        threads: r["threads"], fps: r["fps"], medianMs: r["median_ms"],
                        fpsPerWatt: r["fps_per_watt"], createdAt: Date(timeIntervalSince1970: r["created_at"]))
    }
}

/// Splitting search text into words the same way for every backend.
public enum SearchText {
    /// Lowercased runs of letters and digits, at most 16 words of at most 64 characters.
    public static func words(_ text: String) -> [String] {
        text.lowercased()
            .split { !($0.isLetter || $0.isNumber) }
            .prefix(16)
            .map { String($0.prefix(64)) }
    }
}
