import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import NIOCore

/// The JSON API under `/api` (docs/openapi.yaml).
struct APIRoutes {
    let service: HubService
    var store: any HubStore { service.store }

    /// Every route this adds, as `METHOD /path/{param}`: the OpenAPI test checks each is documented.
    static let documentedRoutes: [String] = [
        "POST /api/users", "GET /api/me", "POST /api/tokens", "GET /api/tokens", "DELETE /api/tokens/{id}",
        "GET /api/models", "GET /api/models/{owner}/{name}", "PUT /api/models/{owner}/{name}",
        "GET /api/models/{owner}/{name}/versions", "POST /api/models/{owner}/{name}/versions",
        "GET /api/models/{owner}/{name}/versions/{version}",
        "GET /api/models/{owner}/{name}/versions/{version}/file", "HEAD /api/models/{owner}/{name}/versions/{version}/file",
        "POST /api/models/{owner}/{name}/like", "DELETE /api/models/{owner}/{name}/like",
        "POST /api/models/{owner}/{name}/subscription", "DELETE /api/models/{owner}/{name}/subscription",
        "POST /api/users/{user}/subscription", "DELETE /api/users/{user}/subscription",
        "GET /api/feed", "GET /api/models/{owner}/{name}/benchmarks", "POST /api/models/{owner}/{name}/benchmarks",
        "GET /api/leaderboard", "GET /api/models/{owner}/{name}/feed.atom",
        "POST /api/models/{owner}/{name}/versions/{version}/predict",
    ]

    func add(to router: Router<HubRequestContext>) {
        let api = router.group("api")
        api.post("users", use: signUp)
        api.get("me", use: me)
        api.post("tokens", use: createToken)
        api.get("tokens", use: listTokens)
        api.delete("tokens/:id", use: deleteToken)
        api.get("models", use: search)
        api.get("models/:owner/:name", use: getModel)
        api.put("models/:owner/:name", use: putModel)
        api.get("models/:owner/:name/versions", use: listVersions)
        api.post("models/:owner/:name/versions", use: publish)
        api.get("models/:owner/:name/versions/:version", use: getVersion)
        api.get("models/:owner/:name/versions/:version/file", use: download)
        api.head("models/:owner/:name/versions/:version/file", use: download)
        api.post("models/:owner/:name/like") { try await like($0, $1, true) }
        api.delete("models/:owner/:name/like") { try await like($0, $1, false) }
        api.post("models/:owner/:name/subscription") { try await subscribeModel($0, $1, true) }
        api.delete("models/:owner/:name/subscription") { try await subscribeModel($0, $1, false) }
        api.post("users/:user/subscription") { try await subscribeUser($0, $1, true) }
        api.delete("users/:user/subscription") { try await subscribeUser($0, $1, false) }
        api.get("feed", use: feed)
        api.get("models/:owner/:name/benchmarks", use: listBenchmarks)
        api.post("models/:owner/:name/benchmarks", use: addBenchmarks)
        api.get("leaderboard", use: leaderboard)
        api.get("models/:owner/:name/feed.atom", use: atom)
        api.post("models/:owner/:name/versions/:version/predict", use: predict)
    }

    // MARK: - Accounts

    @Sendable func signUp(_ request: Request, _ context: HubRequestContext) async throws -> Response {
        let input = try await API.decode(API.SignUpIn.self, from: request)
        let user = try await service.signUp(name: input.name, password: input.password,
                                            clientAddress: context.clientAddress)
        return try API.json(API.UserOut(user), status: .created)
    }

    @Sendable func me(_ request: Request, _ context: HubRequestContext) async throws -> Response {
        try API.json(API.UserOut(try context.requireUser()))
    }

    @Sendable func createToken(_ request: Request, _ context: HubRequestContext) async throws -> Response {
        let input = try await API.decode(API.TokenIn.self, from: request)
        let user: User
        if let signedIn = context.identity?.user {
            user = signedIn
        } else {
            guard let name = input.name, let password = input.password else {
                throw Problem.unauthorized("send 'name' and 'password', or sign in first")
            }
            user = try await service.authenticate(name: name, password: password, clientAddress: context.clientAddress)
        }
        let (secret, token) = try await service.issueToken(for: user, label: input.label ?? "cli")
        return try API.json(API.TokenOut(token, secret: secret), status: .created)
    }

    @Sendable func listTokens(_ request: Request, _ context: HubRequestContext) async throws -> Response {
        let user = try context.requireUser()
        return try API.json(try await store.tokens(userID: user.id).map { API.TokenOut($0) })
    }

    @Sendable func deleteToken(_ request: Request, _ context: HubRequestContext) async throws -> Response {
        let user = try context.requireUser()
        guard let id = Int64(try context.parameters.require("id")) else { throw Problem.badRequest("a token id is a number") }
        guard try await store.deleteToken(id: id, userID: user.id) else { throw Problem.notFound("no token \(id)") }
        return Response(status: .noContent)
    }

    // MARK: - Models

    /// Reads the browse/search parameters shared by the API and the pages.
    static func query(from uri: URI, viewer: User?) throws -> (ModelQuery, page: Int, perPage: Int) {
        let p = uri.queryParameters
        func text(_ key: String) -> String? {
            guard let v = p[Substring(key)].map { String($0) }, !v.isEmpty else { return nil }
            return v
        }
        let page = max(1, Int(text("page") ?? "1") ?? 1)
        let perPage = min(100, max(1, Int(text("per_page") ?? "20") ?? 20))
        var q = ModelQuery(limit: perPage, offset: (page - 1) * perPage)
        q.text = text("q").map { String($0.prefix(200)) }
        q.task = text("task")
        q.tag = text("tag")
        q.precision = text("precision")
        q.op = text("op")?.uppercased()
        q.owner = text("owner")
        q.device = text("device")
        if let s = text("max_size") {
            guard let n = Int64(s), n >= 0 else { throw Problem.badRequest("max_size is a number of bytes") }
            q.maxSize = n
        }
        if let s = text("sort") {
            guard let sort = ModelSort(rawValue: s) else {
                throw Problem.badRequest("sort is one of \(ModelSort.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            q.sort = sort
        }
        q.viewerID = viewer?.id
        return (q, page, perPage)
    }

    @Sendable func search(_ request: Request, _ context: HubRequestContext) async throws -> Response {
        let (q, page, perPage) = try Self.query(from: request.uri, viewer: context.identity?.user)
        let result = try await store.searchModels(q)
        return try API.json(API.SearchOut(models: result.models.map(API.ModelOut.init), total: result.total, page: page,
                                          perPage: perPage))
    }

    private func model(_ context: HubRequestContext) async throws -> ModelRecord {
        try await service.visibleModel(owner: try context.parameters.require("owner"),
                                       name: try context.parameters.require("name"), viewer: context.identity?.user)
    }

    @Sendable func getModel(_ request: Request, _ context: HubRequestContext) async throws -> Response {
        let model = try await model(context)
        let versions = try await store.versions(modelID: model.id)
        var out = API.ModelDetailOut(model: API.ModelOut(model), versions: versions.map { API.VersionOut($0, model: model) })
        if let user = context.identity?.user {
            out.liked = try await store.hasLiked(userID: user.id, modelID: model.id)
            out.subscribed = try await store.isSubscribed(userID: user.id, to: .model(model.id))
        }
        return try API.json(out)
    }

    @Sendable func putModel(_ request: Request, _ context: HubRequestContext) async throws -> Response {
        let user = try context.requireUser()
        let owner = try context.parameters.require("owner"), name = try context.parameters.require("name")
        try Names.validate(owner, as: "owner")
        try Names.validate(name, as: "model name")
        if owner != user.name, try await store.model(owner: owner, name: name) != nil {
            _ = try await service.ownedModel(owner: owner, name: name, user: user)
        }
        let input = try await API.decode(API.CardIn.self, from: request)
        let (model, created) = try await service.putModel(owner: owner, name: name, card: input.card, user: user)
        return try API.json(API.ModelOut(model), status: created ? .created : .ok)
    }

    @Sendable func listVersions(_ request: Request, _ context: HubRequestContext) async throws -> Response {
        let model = try await model(context)
        return try API.json(try await store.versions(modelID: model.id).map { API.VersionOut($0, model: model) })
    }

    @Sendable func publish(_ request: Request, _ context: HubRequestContext) async throws -> Response {
        let user = try context.requireUser()
        let declared = request.headers[.contentLength].flatMap { Int64($0) }
        let (model, version) = try await service.publishVersion(
            owner: try context.parameters.require("owner"), name: try context.parameters.require("name"), user: user,
            body: request.body, declaredLength: declared)
        return try API.json(API.PublishOut(model: API.ModelOut(model), version: API.VersionOut(version, model: model)),
                            status: .created,
                            headers: [.location: "/api/models/\(model.ownerName)/\(model.name)/versions/\(version.number)"])
    }

    @Sendable func getVersion(_ request: Request, _ context: HubRequestContext) async throws -> Response {
        let model = try await model(context)
        let version = try await service.version(of: model, try context.parameters.require("version"))
        return try API.json(API.VersionOut(version, model: model))
    }

    /// The file of a version: `ETag` is the quoted SHA-256, `If-None-Match` answers 304, one byte range answers
    /// 206 (416 when unsatisfiable; several ranges get the whole file). Full downloads and ranges starting at 0
    /// are counted.
    @Sendable func download(_ request: Request, _ context: HubRequestContext) async throws -> Response {
        let model = try await model(context)
        let versionText = try context.parameters.require("version")
        let version = try await service.version(of: model, versionText)
        guard let size = service.blobs.size(of: version.sha256) else {
            context.logger.error("blob missing for committed version", metadata: ["sha256": "\(version.sha256)"])
            throw Problem(.internalServerError, detail: "the file of this version is missing from the store")
        }
        let etag = "\"\(version.sha256)\""
        var headers: HTTPFields = [
            .eTag: etag,
            .acceptRanges: "bytes",
            .contentType: "application/octet-stream",
            .contentDisposition: "attachment; filename=\"\(model.name)-v\(version.number).tflite\"",
        ]
        let scope = model.card.visibility == .public ? "public" : "private"
        headers[.cacheControl] = versionText == "latest" ? "\(scope), no-cache" : "\(scope), max-age=31536000, immutable"
        if let inm = request.headers[.ifNoneMatch], Self.matches(ifNoneMatch: inm, etag: etag) {
            return Response(status: .notModified, headers: headers)
        }
        let path = service.blobs.path(for: version.sha256)
        var range: ClosedRange<Int64>?
        if let header = request.headers[.range],
           request.headers[.ifRange].map({ $0 == etag }) ?? true
        {
            switch ByteRange.parse(header, size: size) {
            case .none: break
            case .unsatisfiable:
                headers[.contentRange] = "bytes */\(size)"
                throw Problem(.rangeNotSatisfiable, detail: "the file has \(size) bytes", headers: [.contentRange: "bytes */\(size)"])
            case let .range(r): range = r
            }
        }
        let isHead = request.method == .head
        if range?.lowerBound ?? 0 == 0, !isHead {
            try await store.recordDownload(versionID: version.id)
        }
        if let range {
            headers[.contentRange] = "bytes \(range.lowerBound)-\(range.upperBound)/\(size)"
            headers[.contentLength] = "\(range.count)"
            if isHead { return Response(status: .partialContent, headers: headers) }
            let body = try await FileIO().loadFile(path: path, range: Int(range.lowerBound)...Int(range.upperBound),
                                                   context: context)
            return Response(status: .partialContent, headers: headers, body: body)
        }
        headers[.contentLength] = "\(size)"
        if isHead { return Response(status: .ok, headers: headers) }
        return Response(status: .ok, headers: headers, body: try await FileIO().loadFile(path: path, context: context))
    }

    /// Whether an `If-None-Match` list names this entity tag (weak comparison, `*` matches).
    static func matches(ifNoneMatch header: String, etag: String) -> Bool {
        header.split(separator: ",").contains { item in
            let tag = item.trimmingCharacters(in: .whitespaces)
            return tag == "*" || tag == etag || tag == "W/\(etag)"
        }
    }

    // MARK: - Try it

    /// Runs a version on an image: a raw image body or multipart/form-data (part `image`), at most
    /// `maxPreviewImageSize` bytes. Anyone who can see the model may try it.
    @Sendable func predict(_ request: Request, _ context: HubRequestContext) async throws -> Response {
        let model = try await model(context)
        let version = try await service.version(of: model, try context.parameters.require("version"))
        let limit = service.configuration.maxPreviewImageSize
        let tooLarge = Problem(.contentTooLarge, detail: "preview images are limited to \(limit) bytes")
        if let declared = request.headers[.contentLength].flatMap({ Int($0) }), declared > limit { throw tooLarge }
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: limit)
        } catch {
            throw tooLarge
        }
        let image = try PreviewUpload.imageBytes(contentType: request.headers[.contentType],
                                                 body: Array(body.readableBytesView))
        return try API.json(try await service.preview(version, image: image), headers: [.cacheControl: "no-store"])
    }

    // MARK: - Likes and subscriptions

    func like(_ request: Request, _ context: HubRequestContext, _ on: Bool) async throws -> Response {
        let user = try context.requireUser()
        let model = try await model(context)
        if on { try await store.like(userID: user.id, modelID: model.id) } else { try await store.unlike(userID: user.id, modelID: model.id) }
        let likes = try await store.model(id: model.id)?.likes
        return try API.json(API.StateOut(liked: on, likes: likes))
    }

    func subscribeModel(_ request: Request, _ context: HubRequestContext, _ on: Bool) async throws -> Response {
        let user = try context.requireUser()
        let model = try await model(context)
        if on { try await store.subscribe(userID: user.id, to: .model(model.id)) } else { try await store.unsubscribe(userID: user.id, from: .model(model.id)) }
        return try API.json(API.StateOut(subscribed: on))
    }

    func subscribeUser(_ request: Request, _ context: HubRequestContext, _ on: Bool) async throws -> Response {
        let user = try context.requireUser()
        let name = try context.parameters.require("user")
        try Names.validate(name, as: "user name")
        guard let publisher = try await store.user(named: name) else { throw Problem.notFound("no user \(name)") }
        if on { try await store.subscribe(userID: user.id, to: .publisher(publisher.id)) } else { try await store.unsubscribe(userID: user.id, from: .publisher(publisher.id)) }
        return try API.json(API.StateOut(subscribed: on))
    }

    @Sendable func feed(_ request: Request, _ context: HubRequestContext) async throws -> Response {
        let user = try context.requireUser()
        let page = max(1, Int(request.uri.queryParameters["page"].map(String.init) ?? "1") ?? 1)
        let items = try await store.feed(userID: user.id, limit: 50, offset: (page - 1) * 50)
        return try API.json(API.FeedOut(items: items.map {
            API.FeedItemOut(model: API.ModelOut($0.model), version: API.VersionOut($0.version, model: $0.model))
        }))
    }

    // MARK: - Benchmarks

    @Sendable func listBenchmarks(_ request: Request, _ context: HubRequestContext) async throws -> Response {
        let model = try await model(context)
        return try API.json(API.BenchmarksOut(results: try await store.benchmarks(modelID: model.id).map(API.BenchmarkOut.init)))
    }

    /// Accepts a `magpie-bench/1` document (up to 16 MiB; per-sample timings make them large). Anyone signed in
    /// may submit results for a model they can see; each row records the submitter.
    @Sendable func addBenchmarks(_ request: Request, _ context: HubRequestContext) async throws -> Response {
        let user = try context.requireUser()
        let model = try await model(context)
        let doc = try await API.decode(API.BenchDocumentIn.self, from: request, limit: 16 << 20)
        guard doc.schema == "magpie-bench/1" else {
            throw Problem(.unprocessableContent, detail: "schema is '\(doc.schema)', expected 'magpie-bench/1'")
        }
        guard !doc.results.isEmpty, doc.results.count <= 1000 else {
            throw Problem(.unprocessableContent, detail: "a document has 1 to 1000 results")
        }
        var versionNumber = model.latestVersion
        if let v = request.uri.queryParameters["version"].map(String.init) {
            versionNumber = try await service.version(of: model, v).number
        }
        let records = try doc.results.map { r -> BenchmarkRecord in
            guard r.fps.isFinite, r.fps >= 0, r.threads >= 1 else {
                throw Problem(.unprocessableContent, detail: "fps must be a finite number >= 0 and threads >= 1")
            }
            let f = r.fingerprint
            let device = String((f.cpuModel.map { c in f.architecture.map { "\(c) (\($0))" } ?? c } ?? f.name ?? "unknown").prefix(200))
            let runtime = String(([r.runtime.name, r.runtime.configuration, r.runtime.version].compactMap { $0 }).joined(separator: " ").prefix(100))
            return BenchmarkRecord(id: 0, modelID: model.id, versionNumber: versionNumber, submitterID: user.id,
                                   device: device, runtime: runtime, threads: r.threads, fps: r.fps,
                                   medianMs: r.latency?.medianMs.flatMap { $0.isFinite ? $0 : nil },
                                   fpsPerWatt: r.energy?.fpsPerWatt.flatMap { $0.isFinite && $0 >= 0 ? $0 : nil },
                                   createdAt: Date())
        }
        try await store.addBenchmarks(records)
        return try API.json(API.BenchmarksOut(results: records.map(API.BenchmarkOut.init)), status: .created)
    }

    @Sendable func leaderboard(_ request: Request, _ context: HubRequestContext) async throws -> Response {
        let device = request.uri.queryParameters["device"].map(String.init).flatMap { $0.isEmpty ? nil : $0 }
        let entries = try await store.leaderboard(device: device, limit: 50)
        return try API.json(API.LeaderboardOut(device: device, entries: entries.map {
            API.LeaderboardEntryOut(model: API.ModelOut($0.model), best: API.BenchmarkOut($0.best))
        }))
    }

    // MARK: - Atom

    @Sendable func atom(_ request: Request, _ context: HubRequestContext) async throws -> Response {
        let model = try await model(context)
        let versions = try await store.versions(modelID: model.id)
        let xml = AtomFeed.render(model: model, versions: versions, baseURL: Self.baseURL(request))
        return Response(status: .ok, headers: [.contentType: "application/atom+xml; charset=utf-8"],
                        body: .init(byteBuffer: ByteBuffer(string: xml)))
    }

    /// `http(s)://host` of the request, for absolute links in feeds.
    static func baseURL(_ request: Request) -> String {
        let host = request.head.authority ?? "localhost"
        let scheme = request.head.scheme ?? "http"
        return "\(scheme)://\(host)"
    }
}

/// One `Range: bytes=...` header against a file size.
enum ByteRange: Equatable {
    /// No usable range: serve the whole file (absent, malformed, several ranges, or another unit).
    case none
    case unsatisfiable
    case range(ClosedRange<Int64>)

    static func parse(_ header: String, size: Int64) -> ByteRange {
        let h = header.trimmingCharacters(in: .whitespaces)
        guard h.hasPrefix("bytes=") else { return .none }
        let spec = h.dropFirst("bytes=".count).trimmingCharacters(in: .whitespaces)
        guard !spec.contains(","), let dash = spec.firstIndex(of: "-") else { return .none }
        let first = spec[..<dash].trimmingCharacters(in: .whitespaces)
        let last = spec[spec.index(after: dash)...].trimmingCharacters(in: .whitespaces)
        if first.isEmpty {
            // Suffix: the last N bytes.
            guard let n = Int64(last), n >= 0 else { return .none }
            guard n > 0, size > 0 else { return .unsatisfiable }
            return .range(max(0, size - n)...(size - 1))
        }
        guard let start = Int64(first), start >= 0 else { return .none }
        var end = size - 1
        if !last.isEmpty {
            guard let e = Int64(last) else { return .none }
            guard e >= start else { return .none }
            end = min(e, size - 1)
        }
        guard start < size else { return .unsatisfiable }
        return .range(start...end)
    }
}
