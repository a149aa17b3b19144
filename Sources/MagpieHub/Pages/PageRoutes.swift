import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import MagpieBench
import NIOCore

/// Server-rendered HTML pages. Every form carries the CSRF token (`_csrf`); actions answer 303 redirects.
struct PageRoutes {
    let service: HubService
    var store: any HubStore { service.store }

    func add(to router: Router<HubRequestContext>) {
        router.get("/", use: home)
        router.get("signup") { _, c in page("Sign up", c, body: accountForm(action: "/signup", title: "Create an account", c)) }
        router.post("signup", use: signUp)
        router.get("signin") { _, c in page("Sign in", c, body: accountForm(action: "/signin", title: "Sign in", c)) }
        router.post("signin", use: signIn)
        router.post("signout", use: signOut)
        router.get("new", use: newModel)
        router.get("models/:owner/:name", use: modelPage)
        router.post("models/:owner/:name/card", use: editCard)
        router.post("models/:owner/:name/like") { try await toggle($0, $1) { u, m in try await store.like(userID: u.id, modelID: m.id) } }
        router.post("models/:owner/:name/unlike") { try await toggle($0, $1) { u, m in try await store.unlike(userID: u.id, modelID: m.id) } }
        router.post("models/:owner/:name/subscribe") { try await toggle($0, $1) { u, m in try await store.subscribe(userID: u.id, to: .model(m.id)) } }
        router.post("models/:owner/:name/unsubscribe") { try await toggle($0, $1) { u, m in try await store.unsubscribe(userID: u.id, from: .model(m.id)) } }
        router.get("feed", use: feedPage)
        router.get("settings/tokens", use: tokensPage)
        router.post("settings/tokens", use: createToken)
        router.get("leaderboard", use: leaderboardPage)
        router.get("static/hub.css") { _, _ in Self.asset(StaticAssets.css, type: "text/css; charset=utf-8") }
        router.get("static/hub.js") { _, _ in Self.asset(StaticAssets.js, type: "text/javascript; charset=utf-8") }
    }

    static func asset(_ text: String, type: String) -> Response {
        Response(status: .ok, headers: [.contentType: type, .cacheControl: "public, max-age=300"],
                 body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    // MARK: - Layout

    func page(_ title: String, _ context: HubRequestContext, status: HTTPResponse.Status = .ok, body: String) -> Response {
        let user = context.identity?.user
        let nav = user.map { u in
            """
            <a href="/new">Upload</a> <a href="/feed">Feed</a> <a href="/settings/tokens">Tokens</a>
            <form class="inline" method="post" action="/signout">\(csrf(context))<button>Sign out \(e(u.name))</button></form>
            """
        } ?? #"<a href="/signin">Sign in</a> <a href="/signup">Sign up</a>"#
        let html = """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <meta name="csrf-token" content="\(e(context.csrfToken))">
            <title>\(e(title)) · Magpie Hub</title>
            <link rel="stylesheet" href="/static/hub.css"><script src="/static/hub.js" defer></script>
            </head><body>
            <header><a class="brand" href="/">Magpie Hub</a> <a href="/leaderboard">Leaderboard</a> <nav>\(nav)</nav></header>
            <main>
            \(body)
            </main></body></html>
            """
        return Response(status: status, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
                        body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    func csrf(_ context: HubRequestContext) -> String {
        "<input type=\"hidden\" name=\"_csrf\" value=\"\(e(context.csrfToken))\">"
    }

    static func redirect(_ location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location])
    }

    /// Decodes a form body (bounded by the context's limit).
    static func form(_ request: Request, _ context: HubRequestContext) async throws -> FormData {
        var request = request
        let body = try await request.collectBody(upTo: context.maxUploadSize)
        return FormData(String(buffer: body))
    }

    // MARK: - Accounts

    func accountForm(action: String, title: String, _ context: HubRequestContext, error: String? = nil,
                     name: String = "") -> String {
        """
        <h1>\(e(title))</h1>
        \(error.map { "<p class=\"error\">\(e($0))</p>" } ?? "")
        <form method="post" action="\(e(action))">\(csrf(context))
        <label>User name <input name="name" value="\(e(name))" required maxlength="64" pattern="[a-z0-9][a-z0-9._-]*" autocomplete="username"></label>
        <label>Password <input name="password" type="password" required minlength="8" autocomplete="\(action == "/signup" ? "new-password" : "current-password")"></label>
        <button>\(e(title))</button></form>
        """
    }

    private func sessionCookie(_ secret: String, maxAge: Int) -> Cookie {
        Cookie(name: CookieName.session, value: secret, maxAge: maxAge, path: "/",
               secure: service.configuration.secureCookies, httpOnly: true, sameSite: .lax)
    }

    private func signedIn(_ user: User) async throws -> Response {
        let (secret, _) = try await service.startSession(for: user)
        var response = Self.redirect("/")
        response.setCookie(sessionCookie(secret, maxAge: Int(service.configuration.sessionLifetime)))
        return response
    }

    @Sendable func signUp(_ request: Request, _ context: HubRequestContext) async throws -> Response {
        let form = try await Self.form(request, context)
        let name = form["name"] ?? "", password = form["password"] ?? ""
        do {
            return try await signedIn(try await service.signUp(name: name, password: password,
                                                               clientAddress: context.clientAddress))
        } catch let p as Problem where p.status != .tooManyRequests {
            return page("Sign up", context, status: p.status,
                        body: accountForm(action: "/signup", title: "Create an account", context, error: p.detail, name: name))
        }
    }

    @Sendable func signIn(_ request: Request, _ context: HubRequestContext) async throws -> Response {
        let form = try await Self.form(request, context)
        let name = form["name"] ?? "", password = form["password"] ?? ""
        do {
            return try await signedIn(try await service.authenticate(name: name, password: password,
                                                                     clientAddress: context.clientAddress))
        } catch let p as Problem where p.status == .unauthorized {
            return page("Sign in", context, status: .unauthorized,
                        body: accountForm(action: "/signin", title: "Sign in", context, error: p.detail, name: name))
        }
    }

    @Sendable func signOut(_ request: Request, _ context: HubRequestContext) async throws -> Response {
        if let secret = request.cookies[CookieName.session]?.value {
            try await store.deleteSession(tokenHash: Secrets.sha256Hex(secret))
        }
        var response = Self.redirect("/")
        response.setCookie(sessionCookie("", maxAge: 0))
        return response
    }

    // MARK: - Browse

    @Sendable func home(_ request: Request, _ context: HubRequestContext) async throws -> Response {
        let (q, page, perPage) = try APIRoutes.query(from: request.uri, viewer: context.identity?.user)
        let result = try await store.searchModels(q)
        func option(_ value: String, _ current: String?) -> String {
            "<option value=\"\(e(value))\"\(value == (current ?? "") ? " selected" : "")>\(e(value.isEmpty ? "any" : value))</option>"
        }
        var body = """
            <h1>Models</h1>
            <form class="search" method="get" action="/">
            <input name="q" placeholder="Search names, descriptions, tags" value="\(e(q.text ?? ""))">
            <label>Task <input name="task" value="\(e(q.task ?? ""))" size="14"></label>
            <label>Precision <select name="precision">\(["", "float32", "float16", "uint8", "int8"].map { option($0, q.precision) }.joined())</select></label>
            <label>Operator <input name="op" value="\(e(q.op ?? ""))" size="12"></label>
            <label>Max bytes <input name="max_size" value="\(q.maxSize.map(String.init) ?? "")" size="10"></label>
            <label>Sort <select name="sort">\(ModelSort.allCases.map { option($0.rawValue, q.sort.rawValue) }.joined())</select></label>
            <button>Search</button></form>
            <p>\(result.total) model\(result.total == 1 ? "" : "s")</p>
            <ul class="models">
            """
        for m in result.models {
            body += """
                <li><a href="/models/\(e(m.ownerName))/\(e(m.name))">\(e(m.fullName))</a>
                \(m.card.task.map { "<span class=\"tag\">\(e($0))</span>" } ?? "")
                \(m.card.tags.map { "<span class=\"tag\">\(e($0))</span>" }.joined(separator: " "))
                <span class="meta">\(m.downloads) downloads · \(m.likes) likes\(m.card.visibility == .private ? " · private" : "")</span></li>
                """
        }
        body += "</ul>"
        var links: [String] = []
        func link(_ p: Int) -> String {
            var comps = URLComponents()
            comps.path = "/"
            var items = (request.uri.queryParameters.map { URLQueryItem(name: String($0.key), value: String($0.value)) })
                .filter { $0.name != "page" }
            items.append(URLQueryItem(name: "page", value: "\(p)"))
            comps.queryItems = items.sorted { $0.name < $1.name }
            return comps.string ?? "/"
        }
        if page > 1 { links.append("<a href=\"\(e(link(page - 1)))\">Previous</a>") }
        if page * perPage < result.total { links.append("<a href=\"\(e(link(page + 1)))\">Next</a>") }
        body += "<p class=\"pages\">\(links.joined(separator: " "))</p>"
        return self.page("Models", context, body: body)
    }

    // MARK: - Model page

    @Sendable func modelPage(_ request: Request, _ context: HubRequestContext) async throws -> Response {
        let model = try await service.visibleModel(owner: try context.parameters.require("owner"),
                                                   name: try context.parameters.require("name"),
                                                   viewer: context.identity?.user)
        let versions = try await store.versions(modelID: model.id)
        let benchmarks = try await store.benchmarks(modelID: model.id)
        let base = "/models/\(e(model.ownerName))/\(e(model.name))"
        let api = "/api/models/\(e(model.ownerName))/\(e(model.name))"
        var actions = ""
        if let user = context.identity?.user {
            let liked = try await store.hasLiked(userID: user.id, modelID: model.id)
            let subscribed = try await store.isSubscribed(userID: user.id, to: .model(model.id))
            actions = """
                <form class="inline" method="post" action="\(base)/\(liked ? "unlike" : "like")">\(csrf(context))<button>\(liked ? "Unlike" : "Like")</button></form>
                <form class="inline" method="post" action="\(base)/\(subscribed ? "unsubscribe" : "subscribe")">\(csrf(context))<button>\(subscribed ? "Unfollow" : "Follow")</button></form>
                """
        }
        var body = """
            <h1>\(e(model.fullName))</h1>
            <p class="meta">\(model.card.task.map { "<span class=\"tag\">\(e($0))</span>" } ?? "")
            \(model.card.tags.map { "<span class=\"tag\">\(e($0))</span>" }.joined(separator: " "))
            \(model.card.license.map { "· license \(e($0))" } ?? "") · \(model.downloads) downloads · \(model.likes) likes
            · <a href="\(api)/feed.atom">Atom feed</a></p>
            \(actions)
            <section class="card">\(Markdown.render(model.card.description))</section>
            """
        if let latest = versions.first {
            let f = latest.facts
            func tensors(_ list: [ModelFacts.TensorFacts]) -> String {
                list.map { t in
                    var s = "\(e(t.name)): \(e(t.dtype))[\(t.shape.map(String.init).joined(separator: ", "))]"
                    if let scale = t.scale, let zp = t.zeroPoint {
                        s += t.perChannel.map { " per-channel ×\($0)" } ?? " scale \(scale) zero point \(zp)"
                    }
                    return "<li>\(s)</li>"
                }.joined()
            }
            body += """
                <h2>Latest: v\(latest.number)</h2>
                <p><a class="button" href="\(api)/versions/\(latest.number)/file">Download (\(latest.size) bytes)</a>
                <code>sha256 \(e(latest.sha256))</code></p>
                <table class="facts">
                <tr><th>Precision</th><td>\(e(f.precision))</td></tr>
                <tr><th>Parameters</th><td>\(f.parameters.map(String.init) ?? "unknown")</td></tr>
                <tr><th>MACs</th><td>\(f.multiplyAccumulates.map(String.init) ?? "unknown")</td></tr>
                <tr><th>Inputs</th><td><ul>\(tensors(f.inputs))</ul></td></tr>
                <tr><th>Outputs</th><td><ul>\(tensors(f.outputs))</ul></td></tr>
                <tr><th>Operators</th><td>\(f.operators.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.map { "\(e($0.key)) ×\($0.value)" }.joined(separator: ", "))</td></tr>
                <tr><th>Labels</th><td>\(f.labels.map { l in "\(l.count): " + e(l.prefix(10).joined(separator: ", ")) + (l.count > 10 ? ", …" : "") } ?? "none")</td></tr>
                </table>
                """
            body += tryIt(api: api, version: latest)
        } else {
            body += "<p>No version yet.</p>"
        }
        if !versions.isEmpty {
            body += "<h2>Versions</h2><table><tr><th>Version</th><th>Uploaded</th><th>Size</th><th>SHA-256</th><th>Downloads</th></tr>"
            let iso = ISO8601DateFormatter()
            for v in versions {
                body += """
                    <tr><td><a href="\(api)/versions/\(v.number)/file">v\(v.number)</a></td><td>\(iso.string(from: v.createdAt))</td>
                    <td>\(v.size)</td><td><code>\(e(v.sha256.prefix(16)))…</code></td><td>\(v.downloads)</td></tr>
                    """
            }
            body += "</table>"
        }
        if !benchmarks.isEmpty {
            body += Self.benchmarkSection(benchmarks)
        }
        if let user = context.identity?.user, user.id == model.ownerID {
            let c = model.card
            body += """
                <h2>Edit card</h2>
                <form method="post" action="\(base)/card">\(csrf(context))
                <label>Description (Markdown) <textarea name="description" rows="8">\(e(c.description))</textarea></label>
                <label>Task <input name="task" value="\(e(c.task ?? ""))"></label>
                <label>Tags (comma separated) <input name="tags" value="\(e(c.tags.joined(separator: ", ")))"></label>
                <label>License <input name="license" value="\(e(c.license ?? ""))"></label>
                <label>Visibility <select name="visibility">\(Visibility.allCases.map { "<option\($0 == c.visibility ? " selected" : "")>\($0.rawValue)</option>" }.joined())</select></label>
                <button>Save</button></form>
                <h2>Add a version</h2>
                <form id="upload" data-owner="\(e(model.ownerName))" data-name="\(e(model.name))">
                <input type="file" name="file" accept=".tflite" required> <button>Upload</button> <span class="status"></span></form>
                """
        }
        return page(model.fullName, context, body: body)
    }

    /// Speed on each device: the per-model leaderboard (best result per device), every result, and the bench
    /// report's charts (fps linear and log, fps per watt) drawn by MagpieBench's `BenchCharts`, which escapes its
    /// text; every value here is escaped too.
    static func benchmarkSection(_ benchmarks: [BenchmarkRecord]) -> String {
        func label(_ b: BenchmarkRecord) -> String { "\(b.device) · \(b.threads) thread\(b.threads == 1 ? "" : "s")" }
        var best: [String: BenchmarkRecord] = [:]
        for b in benchmarks where (best[b.device]?.fps ?? -1) < b.fps { best[b.device] = b }
        let ranked = best.values.sorted { ($0.fps, $1.device) > ($1.fps, $0.device) }
        var html = "<h2>Speed by device</h2><h3>Leaderboard</h3><table class=\"leaderboard\"><tr><th>#</th><th>Device</th><th>Runtime</th><th>Threads</th><th>fps</th><th>fps/W</th></tr>"
        for (i, b) in ranked.enumerated() {
            html += "<tr><td>\(i + 1)</td><td>\(e(b.device))</td><td>\(e(b.runtime))</td><td>\(b.threads)</td><td>\(String(format: "%.1f", b.fps))</td><td>\(b.fpsPerWatt.map { String(format: "%.2f", $0) } ?? "")</td></tr>"
        }
        html += "</table><h3>All results</h3><table class=\"benchmarks\"><tr><th>Device</th><th>Runtime</th><th>Threads</th><th>fps</th><th>median ms</th><th>fps/W</th><th>Version</th></tr>"
        for b in benchmarks {
            html += """
                <tr><td>\(e(b.device))</td><td>\(e(b.runtime))</td><td>\(b.threads)</td><td>\(String(format: "%.1f", b.fps))</td>
                <td>\(b.medianMs.map { String(format: "%.2f", $0) } ?? "")</td><td>\(b.fpsPerWatt.map { String(format: "%.2f", $0) } ?? "")</td>
                <td>\(b.versionNumber.map { "v\($0)" } ?? "")</td></tr>
                """
        }
        html += "</table>"
        let bars = benchmarks.map { BenchCharts.Bar(label: label($0), series: $0.runtime, value: $0.fps) }
        let energyBars = benchmarks.compactMap { b in b.fpsPerWatt.map { BenchCharts.Bar(label: label(b), series: b.runtime, value: $0) } }
        let charts = [
            BenchCharts.barChart(title: "Throughput (higher is better)", axisTitle: "inferences per second (fps), linear scale",
                                 bars: bars, scale: .linear),
            BenchCharts.barChart(title: "Throughput, log scale (higher is better)",
                                 axisTitle: "inferences per second (fps), log scale", bars: bars, scale: .logarithmic),
            BenchCharts.barChart(title: "Efficiency (higher is better)",
                                 axisTitle: "inferences per second per watt (fps/W = inferences per joule)",
                                 bars: energyBars, scale: .linear, valueFormat: { String(format: "%.2f", $0) },
                                 note: "No energy figures: none of these results had RAPL, INA power rails or a declared power (--watts W)."),
        ]
        html += "<div class=\"charts\">" + charts.map { "<figure>\($0)</figure>" }.joined() + "</div>"
        return html
    }

    /// The "Try it" section: an image file, or a photo from the camera (getUserMedia, which browsers allow on
    /// https and on localhost only; `capture` file inputs open the phone camera elsewhere), posted to the predict
    /// endpoint by /static/hub.js, which draws the top 5 or a segmentation overlay.
    func tryIt(api: String, version: VersionRecord) -> String {
        """
        <section id="tryit" class="tryit" data-predict="\(api)/versions/\(version.number)/predict">
        <h2>Try it</h2>
        <p class="meta">Runs v\(version.number) on the server with Magpie's engine, with the preprocessing of
        <code>magpie classify</code>. Images stay on the server only for the request.</p>
        <div class="tryit-inputs">
        <label class="button">Image file <input id="tryit-file" type="file" accept="image/jpeg,image/png,image/bmp"></label>
        <label class="button">Phone camera <input id="tryit-capture" type="file" accept="image/*" capture="environment"></label>
        <button type="button" id="tryit-camera">Live camera</button>
        </div>
        <div id="tryit-live" hidden><video id="tryit-video" playsinline muted></video>
        <button type="button" id="tryit-snap">Take photo</button></div>
        <div class="tryit-output"><canvas id="tryit-canvas" width="0" height="0"></canvas>
        <div><p id="tryit-status" class="status" role="status"></p><ol id="tryit-results" class="results"></ol></div></div>
        </section>
        """
    }

    @Sendable func editCard(_ request: Request, _ context: HubRequestContext) async throws -> Response {
        let user = try context.requireUser()
        let owner = try context.parameters.require("owner"), name = try context.parameters.require("name")
        _ = try await service.ownedModel(owner: owner, name: name, user: user)
        let form = try await Self.form(request, context)
        let tags = (form["tags"] ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            .filter { !$0.isEmpty }
        let card = API.CardIn(description: form["description"], task: form["task"], tags: tags, license: form["license"],
                              visibility: form["visibility"].flatMap(Visibility.init(rawValue:))).card
        _ = try await service.putModel(owner: owner, name: name, card: card, user: user)
        return Self.redirect("/models/\(owner)/\(name)")
    }

    func toggle(_ request: Request, _ context: HubRequestContext,
                _ action: @Sendable (User, ModelRecord) async throws -> Bool) async throws -> Response {
        let user = try context.requireUser()
        let model = try await service.visibleModel(owner: try context.parameters.require("owner"),
                                                   name: try context.parameters.require("name"), viewer: user)
        _ = try await action(user, model)
        return Self.redirect("/models/\(model.ownerName)/\(model.name)")
    }

    // MARK: - Upload, feed, tokens, leaderboard

    @Sendable func newModel(_ request: Request, _ context: HubRequestContext) async throws -> Response {
        guard let user = context.identity?.user else { return Self.redirect("/signin") }
        return page("Upload", context, body: """
            <h1>Upload a model</h1>
            <p>The file is checked by the engine: a file that is not a valid .tflite model, or uses operators Magpie cannot
            run, is refused with the reason. Limit: \(service.blobs.maxUploadSize) bytes.</p>
            <form id="upload" data-owner="\(e(user.name))">
            <label>Name <input name="name" required maxlength="64" pattern="[a-z0-9][a-z0-9._-]*"></label>
            <label>File <input type="file" name="file" accept=".tflite" required></label>
            <button>Upload</button> <span class="status"></span></form>
            """)
    }

    @Sendable func feedPage(_ request: Request, _ context: HubRequestContext) async throws -> Response {
        guard let user = context.identity?.user else { return Self.redirect("/signin") }
        let items = try await store.feed(userID: user.id, limit: 50, offset: 0)
        let iso = ISO8601DateFormatter()
        let list = items.map { i in
            "<li><a href=\"/models/\(e(i.model.ownerName))/\(e(i.model.name))\">\(e(i.model.fullName))</a> v\(i.version.number) · \(iso.string(from: i.version.createdAt))</li>"
        }.joined()
        return page("Feed", context, body: "<h1>New versions you follow</h1><ul>\(list.isEmpty ? "<li>Nothing yet: follow a model or a publisher.</li>" : list)</ul>")
    }

    @Sendable func tokensPage(_ request: Request, _ context: HubRequestContext) async throws -> Response {
        guard let user = context.identity?.user else { return Self.redirect("/signin") }
        return try await tokensPage(user, context, created: nil)
    }

    private func tokensPage(_ user: User, _ context: HubRequestContext, created: String?) async throws -> Response {
        let tokens = try await store.tokens(userID: user.id)
        let iso = ISO8601DateFormatter()
        return page("API tokens", context, body: """
            <h1>API tokens</h1>
            \(created.map { "<p class=\"notice\">New token (shown once): <code>\(e($0))</code><br>Use it with <code>magpie hub push</code> as MAGPIE_HUB_TOKEN.</p>" } ?? "")
            <ul>\(tokens.map { "<li>\(e($0.label)) · created \(iso.string(from: $0.createdAt))</li>" }.joined())</ul>
            <form method="post" action="/settings/tokens">\(csrf(context))
            <label>Label <input name="label" maxlength="64" value="cli"></label> <button>Create token</button></form>
            """)
    }

    @Sendable func createToken(_ request: Request, _ context: HubRequestContext) async throws -> Response {
        let user = try context.requireUser()
        let form = try await Self.form(request, context)
        let (secret, _) = try await service.issueToken(for: user, label: form["label"] ?? "cli")
        return try await tokensPage(user, context, created: secret)
    }

    @Sendable func leaderboardPage(_ request: Request, _ context: HubRequestContext) async throws -> Response {
        let device = request.uri.queryParameters["device"].map(String.init).flatMap { $0.isEmpty ? nil : $0 }
        let entries = try await store.leaderboard(device: device, limit: 50)
        let rows = entries.enumerated().map { i, x in
            "<tr><td>\(i + 1)</td><td><a href=\"/models/\(e(x.model.ownerName))/\(e(x.model.name))\">\(e(x.model.fullName))</a></td><td>\(e(x.best.device))</td><td>\(e(x.best.runtime))</td><td>\(x.best.threads)</td><td>\(String(format: "%.1f", x.best.fps))</td></tr>"
        }.joined()
        return page("Leaderboard", context, body: """
            <h1>Fastest models\(device.map { " on \(e($0))" } ?? "")</h1>
            <form method="get" action="/leaderboard"><label>Device <input name="device" value="\(e(device ?? ""))"></label> <button>Filter</button></form>
            <table><tr><th>#</th><th>Model</th><th>Device</th><th>Runtime</th><th>Threads</th><th>fps</th></tr>\(rows)</table>
            """)
    }
}

/// The stylesheet and the upload script (served from `/static/`, so the CSP can forbid inline script).
enum StaticAssets {
    static let css = """
        body{font:15px/1.5 system-ui,sans-serif;margin:0;color:#222}
        header{display:flex;gap:1em;align-items:center;padding:.6em 1.2em;background:#1d2b36;color:#fff}
        header a{color:#fff} header nav{margin-left:auto;display:flex;gap:.8em;align-items:center}
        .brand{font-weight:bold} main{max-width:60em;margin:1em auto;padding:0 1em}
        .tag{background:#e8eef3;border-radius:3px;padding:0 .4em;font-size:.85em}
        .meta{color:#666} .error{color:#b00020} .notice{background:#fff6d5;padding:.5em}
        form.inline{display:inline} label{display:block;margin:.4em 0} form.search label{display:inline-block;margin-right:.6em}
        table{border-collapse:collapse} td,th{border-bottom:1px solid #ddd;padding:.2em .6em;text-align:left;vertical-align:top}
        textarea{width:100%} pre{background:#f4f4f4;padding:.6em;overflow:auto}
        .button,button{display:inline-block;background:#1d6fa5;color:#fff;border:0;border-radius:4px;padding:.35em .8em;
          font:inherit;cursor:pointer;text-decoration:none;margin:.2em .3em .2em 0}
        .tryit{border:1px solid #d6e2ea;border-radius:6px;padding:.4em 1em 1em;margin:1em 0;background:#f8fbfd}
        .tryit-inputs label.button input{display:none} .tryit-inputs{display:flex;flex-wrap:wrap;align-items:center}
        .tryit-output{display:flex;flex-wrap:wrap;gap:1em;margin-top:.6em}
        #tryit-canvas{max-width:100%;max-height:320px;border-radius:4px} #tryit-video{max-width:100%;max-height:320px;display:block}
        .results{margin:0;padding-left:1.4em;min-width:16em} .results li{margin:.2em 0}
        .bar{display:block;height:.45em;background:#1d6fa5;border-radius:2px}
        .charts svg{max-width:100%;height:auto} figure{margin:1em 0}
        .swatch{display:inline-block;width:.9em;height:.9em;border-radius:2px;margin-right:.4em;vertical-align:middle}
        """

    /// Uploads with `fetch` (the body is the raw file, as the CLI sends it) and the page's CSRF token.
    static let js = """
        document.addEventListener('DOMContentLoaded', () => {
          const form = document.getElementById('upload');
          if (!form) return;
          form.addEventListener('submit', async (event) => {
            event.preventDefault();
            const status = form.querySelector('.status');
            const file = form.querySelector('input[type=file]').files[0];
            const nameInput = form.querySelector('input[name=name]');
            const name = form.dataset.name || (nameInput && nameInput.value);
            const token = document.querySelector('meta[name=csrf-token]').content;
            status.textContent = 'Uploading…';
            const url = '/api/models/' + encodeURIComponent(form.dataset.owner) + '/' + encodeURIComponent(name) + '/versions';
            const response = await fetch(url, {method: 'POST', body: file, credentials: 'same-origin',
              headers: {'Content-Type': 'application/octet-stream', 'X-CSRF-Token': token}});
            if (response.ok) {
              location.href = '/models/' + encodeURIComponent(form.dataset.owner) + '/' + encodeURIComponent(name);
            } else {
              let detail = response.statusText;
              try { const p = await response.json(); detail = p.detail || p.title; } catch (e) {}
              status.textContent = 'Refused: ' + detail;
            }
          });
        });

        // Try it: an image file or a camera photo is drawn on the canvas and posted to the predict endpoint; results
        // are written with textContent only (labels come from uploaded files).
        document.addEventListener('DOMContentLoaded', () => {
          const section = document.getElementById('tryit');
          if (!section) return;
          const canvas = document.getElementById('tryit-canvas');
          const status = document.getElementById('tryit-status');
          const results = document.getElementById('tryit-results');
          const video = document.getElementById('tryit-video');
          const live = document.getElementById('tryit-live');
          let stream = null;
          const palette = (i) => [(i * 97 + 40) % 256, (i * 57 + 160) % 256, (i * 151 + 90) % 256];

          function draw(source, width, height) {
            const scale = Math.min(1, 480 / Math.max(width, height));
            canvas.width = Math.round(width * scale);
            canvas.height = Math.round(height * scale);
            canvas.getContext('2d').drawImage(source, 0, 0, canvas.width, canvas.height);
          }

          function overlay(map) {
            const bytes = Uint8Array.from(atob(map.data), (c) => c.charCodeAt(0));
            const small = document.createElement('canvas');
            small.width = map.width;
            small.height = map.height;
            const ctx = small.getContext('2d');
            const pixels = ctx.createImageData(map.width, map.height);
            for (let i = 0; i < bytes.length; i++) {
              const [r, g, b] = palette(bytes[i]);
              pixels.data.set([r, g, b, bytes[i] === 0 ? 0 : 150], i * 4);
            }
            ctx.putImageData(pixels, 0, 0);
            const target = canvas.getContext('2d');
            target.imageSmoothingEnabled = false;
            target.drawImage(small, 0, 0, canvas.width, canvas.height);
          }

          function show(out) {
            results.replaceChildren();
            const ms = out.latencyMs;
            if (out.top) {
              for (const c of out.top) {
                const li = document.createElement('li');
                li.className = 'class';
                const name = document.createElement('span');
                name.className = 'label';
                name.textContent = c.label || ('class ' + c.index);
                const score = document.createElement('span');
                score.className = 'score meta';
                score.textContent = ' ' + (c.score * 100).toFixed(1) + '%';
                const bar = document.createElement('span');
                bar.className = 'bar';
                bar.style.width = Math.max(1, Math.round(c.score * 100)) + '%';
                li.append(name, score, bar);
                results.append(li);
              }
            }
            if (out.classMap) {
              overlay(out.classMap);
              for (const a of out.areas || []) {
                const li = document.createElement('li');
                li.className = 'class';
                const swatch = document.createElement('span');
                swatch.className = 'swatch';
                swatch.style.background = 'rgb(' + palette(a.index).join(',') + ')';
                const name = document.createElement('span');
                name.className = 'label';
                name.textContent = a.label || ('class ' + a.index);
                const share = document.createElement('span');
                share.className = 'score meta';
                share.textContent = ' ' + (a.fraction * 100).toFixed(1) + '% of pixels';
                li.append(swatch, name, share);
                results.append(li);
              }
            }
            status.textContent = out.task + ' of a ' + out.imageWidth + '×' + out.imageHeight + ' image · inference ' +
              ms.inference.toFixed(1) + ' ms (preprocessing ' + ms.preprocessing.toFixed(1) + ' ms, decode ' +
              ms.decode.toFixed(1) + ' ms)';
          }

          async function send(blob) {
            status.textContent = 'Running…';
            results.replaceChildren();
            const token = document.querySelector('meta[name=csrf-token]').content;
            let response;
            try {
              response = await fetch(section.dataset.predict, {method: 'POST', body: blob, credentials: 'same-origin',
                headers: {'Content-Type': blob.type || 'application/octet-stream', 'X-CSRF-Token': token}});
            } catch (e) {
              status.textContent = 'Network error: ' + e;
              return;
            }
            if (response.ok) {
              show(await response.json());
            } else {
              let detail = response.statusText;
              try { const p = await response.json(); detail = p.detail || p.title; } catch (e) {}
              const retry = response.headers.get('Retry-After');
              status.textContent = 'Refused (' + response.status + '): ' + detail + (retry ? ' Retry in ' + retry + ' s.' : '');
            }
          }

          async function fromFile(input) {
            const file = input.files[0];
            if (!file) return;
            try {
              const bitmap = await createImageBitmap(file);
              draw(bitmap, bitmap.width, bitmap.height);
            } catch (e) {
              canvas.width = 0;
              canvas.height = 0;
            }
            await send(file);
          }
          document.getElementById('tryit-file').addEventListener('change', (e) => fromFile(e.target));
          document.getElementById('tryit-capture').addEventListener('change', (e) => fromFile(e.target));

          document.getElementById('tryit-camera').addEventListener('click', async () => {
            if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
              status.textContent = 'The live camera needs https or localhost; use "Phone camera" or an image file.';
              return;
            }
            try {
              stream = await navigator.mediaDevices.getUserMedia({video: {facingMode: 'environment'}, audio: false});
            } catch (e) {
              status.textContent = 'No camera: ' + e.message;
              return;
            }
            video.srcObject = stream;
            live.hidden = false;
            await video.play();
          });
          document.getElementById('tryit-snap').addEventListener('click', () => {
            if (!stream) return;
            draw(video, video.videoWidth, video.videoHeight);
            const full = document.createElement('canvas');
            full.width = video.videoWidth;
            full.height = video.videoHeight;
            full.getContext('2d').drawImage(video, 0, 0);
            for (const t of stream.getTracks()) t.stop();
            stream = null;
            live.hidden = true;
            full.toBlob((blob) => { if (blob) send(blob); }, 'image/jpeg', 0.92);
          });
        });
        """
}
