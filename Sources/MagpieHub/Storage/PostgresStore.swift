import Foundation
import Logging
import PostgresNIO

/// The hub's database on PostgreSQL through postgres-nio: the same schema and behaviour as `SQLiteStore` (both
/// pass `RepositoryContract`), with a `tsvector` column for full-text search and row locks for version numbers.
///
/// ```swift
/// let store = try PostgresStore(url: "postgres://magpie:secret@127.0.0.1:5432/magpie")
/// try await store.migrate()
/// ```
public final class PostgresStore: HubStore {
    private let client: PostgresClient
    private let runner: Task<Void, Never>
    private let logger: Logger

    /// Connects lazily to `postgres://USER:PASSWORD@HOST:PORT/DATABASE` (no TLS: use it on a private network or
    /// loopback).
    /// - Throws: `ConfigurationError` for a malformed URL.
    public init(url: String, logger: Logger = Logger(label: "magpie-hub.postgres")) throws {
        guard let components = URLComponents(string: url), ["postgres", "postgresql"].contains(components.scheme ?? ""),
              let host = components.host, let user = components.user
        else { throw ConfigurationError("not a postgres://USER:PASSWORD@HOST:PORT/DATABASE URL") }
        let database = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        let configuration = PostgresClient.Configuration(host: host, port: components.port ?? 5432, username: user,
                                                         password: components.password?.removingPercentEncoding,
                                                         database: database.isEmpty ? nil : database, tls: .disable)
        let client = PostgresClient(configuration: configuration)
        self.client = client
        self.logger = logger
        runner = Task { await client.run() }
    }

    public func shutdown() async throws {
        runner.cancel()
    }

    /// The migrations, in order; applied ones are recorded in `magpie_migrations`.
    static let migrations: [(name: String, sql: [String])] = [
        ("v1-accounts", [
            """
            CREATE TABLE users (id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL UNIQUE, password_hash TEXT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL)
            """,
            """
            CREATE TABLE sessions (token_hash TEXT PRIMARY KEY, user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                csrf_token TEXT NOT NULL, created_at DOUBLE PRECISION NOT NULL, expires_at DOUBLE PRECISION NOT NULL)
            """,
            "CREATE INDEX sessions_expiry ON sessions(expires_at)",
            """
            CREATE TABLE api_tokens (id BIGSERIAL PRIMARY KEY, user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                label TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE, created_at DOUBLE PRECISION NOT NULL)
            """,
        ]),
        ("v1-models", [
            """
            CREATE TABLE models (id BIGSERIAL PRIMARY KEY, owner_id BIGINT NOT NULL REFERENCES users(id), name TEXT NOT NULL,
                description TEXT NOT NULL DEFAULT '', task TEXT, tags TEXT NOT NULL DEFAULT '[]', license TEXT,
                visibility TEXT NOT NULL CHECK (visibility IN ('public', 'private')),
                created_at DOUBLE PRECISION NOT NULL, updated_at DOUBLE PRECISION NOT NULL, latest_version INTEGER,
                downloads BIGINT NOT NULL DEFAULT 0, likes BIGINT NOT NULL DEFAULT 0,
                search TSVECTOR NOT NULL DEFAULT ''::tsvector, UNIQUE (owner_id, name))
            """,
            "CREATE INDEX models_search ON models USING GIN (search)",
            """
            CREATE TABLE model_tags (model_id BIGINT NOT NULL REFERENCES models(id) ON DELETE CASCADE, tag TEXT NOT NULL,
                PRIMARY KEY (model_id, tag))
            """,
            "CREATE INDEX model_tags_tag ON model_tags(tag)",
            "CREATE TABLE blobs (sha256 TEXT PRIMARY KEY, size BIGINT NOT NULL, created_at DOUBLE PRECISION NOT NULL)",
            """
            CREATE TABLE versions (id BIGSERIAL PRIMARY KEY, model_id BIGINT NOT NULL REFERENCES models(id),
                number INTEGER NOT NULL, sha256 TEXT NOT NULL REFERENCES blobs(sha256), size BIGINT NOT NULL,
                precision TEXT NOT NULL, facts TEXT NOT NULL, created_at DOUBLE PRECISION NOT NULL,
                downloads BIGINT NOT NULL DEFAULT 0, UNIQUE (model_id, number))
            """,
            """
            CREATE TABLE version_ops (version_id BIGINT NOT NULL REFERENCES versions(id), op TEXT NOT NULL,
                count INTEGER NOT NULL, PRIMARY KEY (version_id, op))
            """,
            "CREATE INDEX version_ops_op ON version_ops(op)",
        ]),
        ("v1-social", [
            """
            CREATE TABLE likes (user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                model_id BIGINT NOT NULL REFERENCES models(id) ON DELETE CASCADE, created_at DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (user_id, model_id))
            """,
            """
            CREATE TABLE subscriptions (user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                kind TEXT NOT NULL CHECK (kind IN ('model', 'publisher')), target_id BIGINT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL, PRIMARY KEY (user_id, kind, target_id))
            """,
            """
            CREATE TABLE benchmarks (id BIGSERIAL PRIMARY KEY, model_id BIGINT NOT NULL REFERENCES models(id) ON DELETE CASCADE,
                version_number INTEGER, submitter_id BIGINT NOT NULL REFERENCES users(id), device TEXT NOT NULL,
                runtime TEXT NOT NULL, threads INTEGER NOT NULL, fps DOUBLE PRECISION NOT NULL,
                median_ms DOUBLE PRECISION, created_at DOUBLE PRECISION NOT NULL)
            """,
            "CREATE INDEX benchmarks_model ON benchmarks(model_id)",
            "CREATE INDEX benchmarks_device ON benchmarks(device, fps)",
        ]),
        ("v2-bench-energy", ["ALTER TABLE benchmarks ADD COLUMN fps_per_watt DOUBLE PRECISION"]),
    ]

    public func migrate() async throws {
        try await wrap {
            try await client.withTransaction(logger: logger) { c in
                try await c.query("SELECT pg_advisory_xact_lock(7243017)", logger: self.logger)
                try await c.query("CREATE TABLE IF NOT EXISTS magpie_migrations (name TEXT PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL)",
                                  logger: self.logger)
                let applied = Set(try await Self.all(c.query("SELECT name FROM magpie_migrations", logger: self.logger))
                    .map { try $0["name"].decode(String.self) })
                for migration in Self.migrations where !applied.contains(migration.name) {
                    for sql in migration.sql { try await c.query(PostgresQuery(unsafeSQL: sql), logger: self.logger) }
                    try await c.query("INSERT INTO magpie_migrations (name, applied_at) VALUES (\(migration.name), \(Self.now()))",
                                      logger: self.logger)
                }
            }
        }
    }

    /// The names of the applied migrations, in order of application.
    public func appliedMigrations() async throws -> [String] {
        try await rows("SELECT name FROM magpie_migrations ORDER BY applied_at, name").map { try $0["name"].decode(String.self) }
    }

    /// Drops every table (tests start from an empty database).
    public func dropEverything() async throws {
        try await wrap {
            try await client.query("DROP TABLE IF EXISTS benchmarks, subscriptions, likes, version_ops, versions, blobs, model_tags, models, api_tokens, sessions, users, magpie_migrations CASCADE")
        }
    }

    // MARK: - Plumbing

    private static func now() -> Double { Date().timeIntervalSince1970 }

    private func wrap<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch {
            throw Self.storeError(error)
        }
    }

    /// Maps postgres-nio errors (also those wrapped in a transaction error) to `StoreError`.
    private static func storeError(_ error: any Error) -> StoreError {
        switch error {
        case let e as StoreError:
            return e
        case let e as PostgresTransactionError:
            if let inner = e.closureError ?? e.beginError ?? e.commitError { return storeError(inner) }
            return .backend("\(e)")
        case let e as PSQLError:
            let message = e.serverInfo?[.message] ?? "\(e.code)"
            switch e.serverInfo?[.sqlState] {
            case "23505": return .conflict(message)
            case "23503": return .notFound(message)
            default: return .backend(message)
            }
        default:
            return .backend("\(error)")
        }
    }

    private static func all(_ sequence: PostgresRowSequence) async throws -> [PostgresRandomAccessRow] {
        var out: [PostgresRandomAccessRow] = []
        for try await row in sequence { out.append(row.makeRandomAccess()) }
        return out
    }

    private func rows(_ query: PostgresQuery) async throws -> [PostgresRandomAccessRow] {
        try await wrap { try await Self.all(client.query(query, logger: logger)) }
    }

    private func execute(_ query: PostgresQuery) async throws {
        try await wrap { _ = try await client.query(query, logger: logger) }
    }

    /// Runs `body` in a transaction; the count of rows a statement touched comes back through `RETURNING`.
    private func transaction<T: Sendable>(_ body: @escaping (PostgresConnection) async throws -> T) async throws -> T {
        try await wrap { try await client.withTransaction(logger: logger) { try await body($0) } }
    }

    private func tx(_ c: PostgresConnection, _ q: PostgresQuery) async throws -> [PostgresRandomAccessRow] {
        try await Self.all(c.query(q, logger: logger))
    }

    // MARK: - Users

    public func createUser(name: String, passwordHash: String) async throws -> User {
        let t = Self.now()
        let r = try await rows("INSERT INTO users (name, password_hash, created_at) VALUES (\(name), \(passwordHash), \(t)) RETURNING id")
        return User(id: try r[0]["id"].decode(Int64.self), name: name, passwordHash: passwordHash,
                    createdAt: Date(timeIntervalSince1970: t))
    }

    public func user(named name: String) async throws -> User? {
        try await rows("SELECT * FROM users WHERE name = \(name)").first.map(Self.user)
    }

    public func user(id: Int64) async throws -> User? {
        try await rows("SELECT * FROM users WHERE id = \(id)").first.map(Self.user)
    }

    private static func user(_ r: PostgresRandomAccessRow) throws -> User {
        User(id: try r["id"].decode(Int64.self), name: try r["name"].decode(String.self),
             passwordHash: try r["password_hash"].decode(String.self),
             createdAt: Date(timeIntervalSince1970: try r["created_at"].decode(Double.self)))
    }

    // MARK: - Sessions and tokens

    public func createSession(_ s: Session) async throws {
        try await execute("""
            INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at)
            VALUES (\(s.tokenHash), \(s.userID), \(s.csrfToken), \(s.createdAt.timeIntervalSince1970), \(s.expiresAt.timeIntervalSince1970))
            """)
    }

    public func session(tokenHash: String, now: Date) async throws -> Session? {
        try await rows("SELECT * FROM sessions WHERE token_hash = \(tokenHash) AND expires_at > \(now.timeIntervalSince1970)")
            .first.map { r in
                Session(tokenHash: try r["token_hash"].decode(String.self), userID: try r["user_id"].decode(Int64.self),
                        csrfToken: try r["csrf_token"].decode(String.self),
                        createdAt: Date(timeIntervalSince1970: try r["created_at"].decode(Double.self)),
                        expiresAt: Date(timeIntervalSince1970: try r["expires_at"].decode(Double.self)))
            }
    }

    public func deleteSession(tokenHash: String) async throws {
        try await execute("DELETE FROM sessions WHERE token_hash = \(tokenHash)")
    }

    @discardableResult
    public func deleteExpiredSessions(now: Date) async throws -> Int {
        try await rows("DELETE FROM sessions WHERE expires_at <= \(now.timeIntervalSince1970) RETURNING token_hash").count
    }

    public func createToken(userID: Int64, label: String, tokenHash: String) async throws -> APIToken {
        let t = Self.now()
        let r = try await rows("""
            INSERT INTO api_tokens (user_id, label, token_hash, created_at) VALUES (\(userID), \(label), \(tokenHash), \(t)) RETURNING id
            """)
        return APIToken(id: try r[0]["id"].decode(Int64.self), userID: userID, label: label, tokenHash: tokenHash,
                        createdAt: Date(timeIntervalSince1970: t))
    }

    public func token(hash: String) async throws -> APIToken? {
        try await rows("SELECT * FROM api_tokens WHERE token_hash = \(hash)").first.map(Self.token)
    }

    public func tokens(userID: Int64) async throws -> [APIToken] {
        try await rows("SELECT * FROM api_tokens WHERE user_id = \(userID) ORDER BY id").map(Self.token)
    }

    public func deleteToken(id: Int64, userID: Int64) async throws -> Bool {
        try await !rows("DELETE FROM api_tokens WHERE id = \(id) AND user_id = \(userID) RETURNING id").isEmpty
    }

    private static func token(_ r: PostgresRandomAccessRow) throws -> APIToken {
        APIToken(id: try r["id"].decode(Int64.self), userID: try r["user_id"].decode(Int64.self),
                 label: try r["label"].decode(String.self), tokenHash: try r["token_hash"].decode(String.self),
                 createdAt: Date(timeIntervalSince1970: try r["created_at"].decode(Double.self)))
    }

    // MARK: - Models

    private static let modelColumns = """
        m.id, m.owner_id, m.name, m.description, m.task, m.tags, m.license, m.visibility, m.created_at, m.updated_at,
        m.latest_version, m.downloads, m.likes, u.name AS owner_name
        """

    private static func json<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: (try? encoder.encode(value)) ?? Data("null".utf8), as: UTF8.self)
    }

    public func createModel(ownerID: Int64, name: String, card: ModelCard) async throws -> ModelRecord {
        let t = Self.now()
        let tags = Self.json(card.tags)
        let id: Int64 = try await transaction { c in
            let r = try await self.tx(c, """
                INSERT INTO models (owner_id, name, description, task, tags, license, visibility, created_at, updated_at)
                VALUES (\(ownerID), \(name), \(card.description), \(card.task), \(tags), \(card.license), \(card.visibility.rawValue), \(t), \(t))
                RETURNING id
                """)
            let id = try r[0]["id"].decode(Int64.self)
            try await self.writeTags(c, modelID: id, tags: card.tags)
            return id
        }
        guard let model = try await model(id: id) else { throw StoreError.notFound("model \(id)") }
        return model
    }

    private func writeTags(_ c: PostgresConnection, modelID: Int64, tags: [String]) async throws {
        _ = try await tx(c, "DELETE FROM model_tags WHERE model_id = \(modelID)")
        for tag in Set(tags) { _ = try await tx(c, "INSERT INTO model_tags (model_id, tag) VALUES (\(modelID), \(tag))") }
        _ = try await tx(c, """
            UPDATE models m SET search = to_tsvector('simple', u.name || ' ' || m.name || ' ' || m.description || ' ' ||
                COALESCE((SELECT string_agg(tag, ' ') FROM model_tags WHERE model_id = m.id), ''))
            FROM users u WHERE u.id = m.owner_id AND m.id = \(modelID)
            """)
    }

    public func model(owner: String, name: String) async throws -> ModelRecord? {
        try await rows(PostgresQuery(unsafeSQL: """
            SELECT \(Self.modelColumns) FROM models m JOIN users u ON u.id = m.owner_id WHERE u.name = $1 AND m.name = $2
            """, binds: Self.binds(owner, name))).first.map(Self.model)
    }

    public func model(id: Int64) async throws -> ModelRecord? {
        try await rows(PostgresQuery(unsafeSQL: """
            SELECT \(Self.modelColumns) FROM models m JOIN users u ON u.id = m.owner_id WHERE m.id = $1
            """, binds: Self.binds(id))).first.map(Self.model)
    }

    private static func binds(_ values: any PostgresDynamicTypeEncodable...) -> PostgresBindings {
        var b = PostgresBindings()
        for v in values { b.append(v) }
        return b
    }

    public func updateCard(modelID: Int64, card: ModelCard) async throws {
        let t = Self.now()
        let tags = Self.json(card.tags)
        try await transaction { c in
            let r = try await self.tx(c, """
                UPDATE models SET description = \(card.description), task = \(card.task), tags = \(tags),
                    license = \(card.license), visibility = \(card.visibility.rawValue), updated_at = \(t)
                WHERE id = \(modelID) RETURNING id
                """)
            guard !r.isEmpty else { throw StoreError.notFound("model \(modelID)") }
            try await self.writeTags(c, modelID: modelID, tags: card.tags)
        }
    }

    public func searchModels(_ q: ModelQuery) async throws -> ModelPage {
        var binds = PostgresBindings()
        func bind(_ v: some PostgresDynamicTypeEncodable) -> String {
            binds.append(v)
            return "$\(binds.count)"
        }
        var join = """
            FROM models m JOIN users u ON u.id = m.owner_id
            LEFT JOIN versions lv ON lv.model_id = m.id AND lv.number = m.latest_version
            """
        let order: String
        switch q.sort {
        case .downloads: order = "m.downloads DESC, m.id DESC"
        case .likes: order = "m.likes DESC, m.id DESC"
        case .newest: order = "COALESCE(lv.created_at, m.created_at) DESC, m.id DESC"
        case .fastest:
            let filter = q.device.map { "WHERE device = \(bind($0))" } ?? ""
            join += "\nLEFT JOIN (SELECT model_id, MAX(fps) AS best FROM benchmarks \(filter) GROUP BY model_id) b ON b.model_id = m.id"
            order = "b.best IS NULL, b.best DESC, m.id DESC"
        }
        var clauses = ["(m.visibility = 'public' OR m.owner_id = \(bind(q.viewerID ?? -1)))"]
        if let text = q.text {
            let words = SearchText.words(text)
            guard !words.isEmpty else { return ModelPage(models: [], total: 0) }
            clauses.append("m.search @@ to_tsquery('simple', \(bind(words.map { "\($0):*" }.joined(separator: " & "))))")
        }
        if let task = q.task { clauses.append("m.task = \(bind(task))") }
        if let tag = q.tag { clauses.append("EXISTS (SELECT 1 FROM model_tags t WHERE t.model_id = m.id AND t.tag = \(bind(tag)))") }
        if let p = q.precision { clauses.append("lv.precision = \(bind(p))") }
        if let op = q.op { clauses.append("EXISTS (SELECT 1 FROM version_ops o WHERE o.version_id = lv.id AND o.op = \(bind(op)))") }
        if let maxSize = q.maxSize { clauses.append("lv.size <= \(bind(maxSize))") }
        if let owner = q.owner { clauses.append("u.name = \(bind(owner))") }
        let whereSQL = clauses.joined(separator: " AND ")
        let countBinds = binds
        let limit = bind(max(0, min(q.limit, 100))), offset = bind(max(0, q.offset))
        let total = try await rows(PostgresQuery(unsafeSQL: "SELECT COUNT(*) AS n \(join) WHERE \(whereSQL)", binds: countBinds))
        let found = try await rows(PostgresQuery(unsafeSQL: """
            SELECT \(Self.modelColumns) \(join) WHERE \(whereSQL) ORDER BY \(order) LIMIT \(limit) OFFSET \(offset)
            """, binds: binds))
        return ModelPage(models: try found.map(Self.model), total: Int(try total[0]["n"].decode(Int64.self)))
    }

    private static func model(_ r: PostgresRandomAccessRow) throws -> ModelRecord {
        let tags = (try? JSONDecoder().decode([String].self, from: Data(try r["tags"].decode(String.self).utf8))) ?? []
        let card = ModelCard(description: try r["description"].decode(String.self), task: try r["task"].decode(String?.self),
                             tags: tags, license: try r["license"].decode(String?.self),
                             visibility: Visibility(rawValue: try r["visibility"].decode(String.self)) ?? .private)
        return ModelRecord(id: try r["id"].decode(Int64.self), ownerID: try r["owner_id"].decode(Int64.self),
                           ownerName: try r["owner_name"].decode(String.self), name: try r["name"].decode(String.self),
                           card: card, createdAt: Date(timeIntervalSince1970: try r["created_at"].decode(Double.self)),
                           updatedAt: Date(timeIntervalSince1970: try r["updated_at"].decode(Double.self)),
                           latestVersion: try r["latest_version"].decode(Int32?.self).map(Int.init),
                           downloads: try r["downloads"].decode(Int64.self), likes: try r["likes"].decode(Int64.self))
    }

    // MARK: - Versions

    public func addVersion(_ v: NewVersion) async throws -> VersionRecord {
        let t = Self.now()
        let facts = Self.json(v.facts)
        return try await transaction { c in
            // The row lock serialises concurrent versions of one model, so numbers never collide.
            guard !(try await self.tx(c, "SELECT id FROM models WHERE id = \(v.modelID) FOR UPDATE")).isEmpty else {
                throw StoreError.notFound("model \(v.modelID)")
            }
            _ = try await self.tx(c, "INSERT INTO blobs (sha256, size, created_at) VALUES (\(v.sha256), \(v.size), \(t)) ON CONFLICT DO NOTHING")
            let max = try await self.tx(c, "SELECT COALESCE(MAX(number), 0) AS n FROM versions WHERE model_id = \(v.modelID)")
            let number = Int(try max[0]["n"].decode(Int32.self)) + 1
            let number32 = Int32(number)
            let r = try await self.tx(c, """
                INSERT INTO versions (model_id, number, sha256, size, precision, facts, created_at)
                VALUES (\(v.modelID), \(number32), \(v.sha256), \(v.size), \(v.facts.precision), \(facts), \(t)) RETURNING id
                """)
            let id = try r[0]["id"].decode(Int64.self)
            for (op, count) in v.facts.operators {
                let count32 = Int32(count)
                _ = try await self.tx(c, "INSERT INTO version_ops (version_id, op, count) VALUES (\(id), \(op), \(count32))")
            }
            _ = try await self.tx(c, "UPDATE models SET latest_version = \(number32), updated_at = \(t) WHERE id = \(v.modelID)")
            return VersionRecord(id: id, modelID: v.modelID, number: number, sha256: v.sha256, size: v.size,
                                 facts: v.facts, createdAt: Date(timeIntervalSince1970: t), downloads: 0)
        }
    }

    public func versions(modelID: Int64) async throws -> [VersionRecord] {
        try await rows("SELECT * FROM versions WHERE model_id = \(modelID) ORDER BY number DESC").map(Self.version)
    }

    public func version(modelID: Int64, number: Int) async throws -> VersionRecord? {
        let n = Int32(clamping: number)
        return try await rows("SELECT * FROM versions WHERE model_id = \(modelID) AND number = \(n)").first.map(Self.version)
    }

    public func recordDownload(versionID: Int64) async throws {
        try await transaction { c in
            _ = try await self.tx(c, "UPDATE versions SET downloads = downloads + 1 WHERE id = \(versionID)")
            _ = try await self.tx(c, "UPDATE models SET downloads = downloads + 1 WHERE id = (SELECT model_id FROM versions WHERE id = \(versionID))")
        }
    }

    public func referencedBlobs() async throws -> Set<String> {
        Set(try await rows("SELECT DISTINCT sha256 FROM versions").map { try $0["sha256"].decode(String.self) })
    }

    private static func version(_ r: PostgresRandomAccessRow) throws -> VersionRecord {
        let size = try r["size"].decode(Int64.self)
        let json = try r["facts"].decode(String.self)
        let precision = try r["precision"].decode(String.self)
        let facts = (try? JSONDecoder().decode(ModelFacts.self, from: Data(json.utf8)))
            ?? ModelFacts(inputs: [], outputs: [], precision: precision, operators: [:],
                          parameters: nil, multiplyAccumulates: nil, sizeBytes: size, labels: nil)
        return VersionRecord(id: try r["id"].decode(Int64.self), modelID: try r["model_id"].decode(Int64.self),
                             number: Int(try r["number"].decode(Int32.self)), sha256: try r["sha256"].decode(String.self),
                             size: size, facts: facts,
                             createdAt: Date(timeIntervalSince1970: try r["created_at"].decode(Double.self)),
                             downloads: try r["downloads"].decode(Int64.self))
    }

    // MARK: - Likes and subscriptions

    @discardableResult
    public func like(userID: Int64, modelID: Int64) async throws -> Bool {
        let t = Self.now()
        return try await transaction { c in
            let r = try await self.tx(c, """
                INSERT INTO likes (user_id, model_id, created_at) VALUES (\(userID), \(modelID), \(t)) ON CONFLICT DO NOTHING RETURNING user_id
                """)
            guard !r.isEmpty else { return false }
            _ = try await self.tx(c, "UPDATE models SET likes = likes + 1 WHERE id = \(modelID)")
            return true
        }
    }

    @discardableResult
    public func unlike(userID: Int64, modelID: Int64) async throws -> Bool {
        try await transaction { c in
            let r = try await self.tx(c, "DELETE FROM likes WHERE user_id = \(userID) AND model_id = \(modelID) RETURNING user_id")
            guard !r.isEmpty else { return false }
            _ = try await self.tx(c, "UPDATE models SET likes = likes - 1 WHERE id = \(modelID)")
            return true
        }
    }

    public func hasLiked(userID: Int64, modelID: Int64) async throws -> Bool {
        try await !rows("SELECT 1 AS x FROM likes WHERE user_id = \(userID) AND model_id = \(modelID)").isEmpty
    }

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
        return try await !rows("""
            INSERT INTO subscriptions (user_id, kind, target_id, created_at) VALUES (\(userID), \(kind), \(id), \(t))
            ON CONFLICT DO NOTHING RETURNING user_id
            """).isEmpty
    }

    @discardableResult
    public func unsubscribe(userID: Int64, from target: SubscriptionTarget) async throws -> Bool {
        let (kind, id) = Self.parts(target)
        return try await !rows("""
            DELETE FROM subscriptions WHERE user_id = \(userID) AND kind = \(kind) AND target_id = \(id) RETURNING user_id
            """).isEmpty
    }

    public func isSubscribed(userID: Int64, to target: SubscriptionTarget) async throws -> Bool {
        let (kind, id) = Self.parts(target)
        return try await !rows("SELECT 1 AS x FROM subscriptions WHERE user_id = \(userID) AND kind = \(kind) AND target_id = \(id)").isEmpty
    }

    public func feed(userID: Int64, limit: Int, offset: Int) async throws -> [FeedItem] {
        let limit = max(0, min(limit, 100)), offset = max(0, offset)
        let found = try await rows("""
            SELECT v.id AS version_id, m.id AS model_id FROM versions v JOIN models m ON m.id = v.model_id
            WHERE (m.visibility = 'public' OR m.owner_id = \(userID))
              AND (EXISTS (SELECT 1 FROM subscriptions s WHERE s.user_id = \(userID) AND s.kind = 'model' AND s.target_id = m.id)
                OR EXISTS (SELECT 1 FROM subscriptions s WHERE s.user_id = \(userID) AND s.kind = 'publisher' AND s.target_id = m.owner_id))
            ORDER BY v.created_at DESC, v.id DESC LIMIT \(limit) OFFSET \(offset)
            """)
        var models: [Int64: ModelRecord] = [:]
        var items: [FeedItem] = []
        for r in found {
            let modelID = try r["model_id"].decode(Int64.self), versionID = try r["version_id"].decode(Int64.self)
            if models[modelID] == nil { models[modelID] = try await model(id: modelID) }
            guard let model = models[modelID],
                  let version = try await rows("SELECT * FROM versions WHERE id = \(versionID)").first.map(Self.version)
            else { continue }
            items.append(FeedItem(model: model, version: version))
        }
        return items
    }

    // MARK: - Benchmarks

    public func addBenchmarks(_ results: [BenchmarkRecord]) async throws {
        let t = Self.now()
        try await transaction { c in
            for b in results {
                let version = b.versionNumber.map { Int32(clamping: $0) }, threads = Int32(clamping: b.threads)
                _ = try await self.tx(c, """
                    INSERT INTO benchmarks (model_id, version_number, submitter_id, device, runtime, threads, fps, median_ms, fps_per_watt, created_at)
                    VALUES (\(b.modelID), \(version), \(b.submitterID), \(b.device), \(b.runtime), \(threads), \(b.fps), \(b.medianMs), \(b.fpsPerWatt), \(t))
                    """)
            }
        }
    }

    public func benchmarks(modelID: Int64) async throws -> [BenchmarkRecord] {
        try await rows("SELECT * FROM benchmarks WHERE model_id = \(modelID) ORDER BY device, fps DESC").map(Self.benchmark)
    }

    public func leaderboard(device: String?, limit: Int) async throws -> [(model: ModelRecord, best: BenchmarkRecord)] {
        let limit = max(0, min(limit, 100))
        let found = try await rows("""
            SELECT * FROM (SELECT DISTINCT ON (b.model_id) b.* FROM benchmarks b JOIN models m ON m.id = b.model_id
                WHERE m.visibility = 'public' AND (\(device)::TEXT IS NULL OR b.device = \(device))
                ORDER BY b.model_id, b.fps DESC, b.id) best
            ORDER BY fps DESC LIMIT \(limit)
            """)
        var out: [(model: ModelRecord, best: BenchmarkRecord)] = []
        for r in found {
            let b = try Self.benchmark(r)
            if let m = try await model(id: b.modelID) { out.append((model: m, best: b)) }
        }
        return out
    }

    private static func benchmark(_ r: PostgresRandomAccessRow) throws -> BenchmarkRecord {
        BenchmarkRecord(id: try r["id"].decode(Int64.self), modelID: try r["model_id"].decode(Int64.self),
                        versionNumber: try r["version_number"].decode(Int32?.self).map(Int.init),
                        submitterID: try r["submitter_id"].decode(Int64.self), device: try r["device"].decode(String.self),
                        runtime: try r["runtime"].decode(String.self), threads: Int(try r["threads"].decode(Int32.self)),
                        fps: try r["fps"].decode(Double.self), medianMs: try r["median_ms"].decode(Double?.self),
                        fpsPerWatt: try r["fps_per_watt"].decode(Double?.self), createdAt: Date(timeIntervalSince1970: try r["created_at"].decode(Double.self)))
    }
}
