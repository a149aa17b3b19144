import Foundation
import HTTPTypes
import HummingbirdTesting
import XCTest

@testable import MagpieHub

/// Pulls `name=value` of a Set-Cookie header.
private func cookie(_ response: TestResponse, _ name: String) -> (value: String, header: String)? {
    for field in response.headers where field.name == .setCookie {
        let header = field.value
        if header.hasPrefix("\(name)=") {
            let value = header.dropFirst(name.count + 1).prefix { $0 != ";" }
            return (String(value), header)
        }
    }
    return nil
}

private func hiddenToken(_ html: String) -> String? {
    guard let r = html.range(of: "name=\"_csrf\" value=\"") else { return nil }
    return String(html[r.upperBound...].prefix { $0 != "\"" })
}

private func form(_ fields: [String: String]) -> String {
    fields.sorted { $0.key < $1.key }.map { "\($0.key)=\(HTML.query($0.value))" }.joined(separator: "&")
}

/// Sessions, CSRF, rate limiting and HTML escaping.
final class SecurityTests: XCTestCase {
    func testSignUpFormNeedsTheDoubleSubmitTokenAndSetsAHardenedSessionCookie() async throws {
        let hub = try await TestHub.make()
        defer { hub.remove() }
        try await hub.test { client in
            let page = try await client.send(.get, "/signup")
            XCTAssertEqual(page.status, .ok)
            XCTAssertNotNil(page.headers[.contentSecurityPolicy])
            guard let csrf = cookie(page, "magpie_csrf"), let hidden = hiddenToken(page.text) else {
                return XCTFail("no CSRF cookie or field")
            }
            XCTAssertEqual(csrf.value, hidden)
            XCTAssertTrue(csrf.header.contains("HttpOnly"))
            XCTAssertTrue(csrf.header.contains("SameSite=Lax"))
            let formHeaders: HTTPFields = [.contentType: "application/x-www-form-urlencoded", .cookie: "magpie_csrf=\(csrf.value)"]
            let body = ["name": "ada", "password": "correct horse"]

            var missing = formHeaders
            missing[.cookie] = nil
            let noCookie = try await client.executeRequest(uri: "/signup", method: .post, headers: missing,
                                                           body: .init(string: form(body.merging(["_csrf": hidden]) { a, _ in a })))
            XCTAssertEqual(noCookie.status, .forbidden, "a token without its cookie is refused")
            let noField = try await client.executeRequest(uri: "/signup", method: .post, headers: formHeaders,
                                                          body: .init(string: form(body)))
            XCTAssertEqual(noField.status, .forbidden)
            let wrong = try await client.executeRequest(uri: "/signup", method: .post, headers: formHeaders,
                                                        body: .init(string: form(body.merging(["_csrf": String(repeating: "0", count: 64)]) { a, _ in a })))
            XCTAssertEqual(wrong.status, .forbidden)
            XCTAssertEqual(wrong.problem?.title, "CSRF check failed")

            let ok = try await client.executeRequest(uri: "/signup", method: .post, headers: formHeaders,
                                                     body: .init(string: form(body.merging(["_csrf": hidden]) { a, _ in a })))
            XCTAssertEqual(ok.status, .seeOther, ok.text)
            guard let session = cookie(ok, "magpie_session") else { return XCTFail("no session cookie") }
            XCTAssertTrue(session.header.contains("HttpOnly"))
            XCTAssertTrue(session.header.contains("SameSite=Lax"))
            XCTAssertFalse(session.header.contains("Secure"), "Secure only with the https option")

            // Signed in: the session's synchronizer token guards forms and API writes.
            let sessionCookie: HTTPFields = [.cookie: "magpie_session=\(session.value)"]
            let me = try await client.send(.get, "/api/me", headers: sessionCookie)
            XCTAssertEqual(me.status, .ok)
            let home = try await client.send(.get, "/", headers: sessionCookie)
            guard let token = hiddenToken(home.text) else { return XCTFail("no token on the signed-in page") }
            XCTAssertNotEqual(token, hidden)
            let put = try await client.send(.put, "/api/models/ada/m", headers: sessionCookie, json: "{}")
            XCTAssertEqual(put.status, .forbidden, "API writes with a cookie need X-CSRF-Token")
            var withToken = sessionCookie
            withToken[HTTPField.Name("X-CSRF-Token")!] = token
            let put2 = try await client.send(.put, "/api/models/ada/m", headers: withToken, json: "{}")
            XCTAssertEqual(put2.status, .created, put2.text)

            var likeHeaders = sessionCookie
            likeHeaders[.contentType] = "application/x-www-form-urlencoded"
            let forged = try await client.executeRequest(uri: "/models/ada/m/like", method: .post, headers: likeHeaders,
                                                         body: .init(string: ""))
            XCTAssertEqual(forged.status, .forbidden)
            let liked = try await client.executeRequest(uri: "/models/ada/m/like", method: .post, headers: likeHeaders,
                                                        body: .init(string: "_csrf=\(token)"))
            XCTAssertEqual(liked.status, .seeOther)
            let model = try await hub.service.store.model(owner: "ada", name: "m")
            XCTAssertEqual(model?.likes, 1)

            let out = try await client.executeRequest(uri: "/signout", method: .post, headers: likeHeaders,
                                                      body: .init(string: "_csrf=\(token)"))
            XCTAssertEqual(out.status, .seeOther)
            do { let r = try await client.send(.get, "/api/me", headers: sessionCookie); XCTAssertEqual(r.status, .unauthorized) }
        }
    }

    func testSecureCookiesBehindHTTPS() async throws {
        let directory = NSTemporaryDirectory() + "magpie-hub-test-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let service = try await makeHubService(HubConfiguration(dataDirectory: directory, secureCookies: true, bcryptCost: 4))
        try await buildApplication(service: service).test(.router) { client in
            let page = try await client.send(.get, "/signin")
            let header = page.headers[values: .setCookie].first ?? ""
            XCTAssertTrue(header.contains("Secure"), header)
        }
    }

    func testSignInIsRateLimitedPerAddressAndUser() async throws {
        let hub = try await TestHub.make(signInBurst: 3)
        defer { hub.remove() }
        try await hub.test { client in
            _ = try await client.account("ada")  // spends one attempt for ada
            for _ in 0..<2 {
                let r = try await client.send(.post, "/api/tokens", json: #"{"name":"ada","password":"wrong password"}"#)
                XCTAssertEqual(r.status, .unauthorized)
            }
            let limited = try await client.send(.post, "/api/tokens", json: #"{"name":"ada","password":"correct horse"}"#)
            XCTAssertEqual(limited.status, .tooManyRequests)
            XCTAssertNotNil(limited.headers[.retryAfter].flatMap(Int.init))
            let otherUser = try await client.send(.post, "/api/tokens", json: #"{"name":"bob","password":"whatever1"}"#)
            XCTAssertEqual(otherUser.status, .unauthorized, "another user's bucket is separate")
        }
        let limiter = RateLimiter(capacity: 2, refillInterval: 10)
        let first = await limiter.attempt("k", now: 0)
        let second = await limiter.attempt("k", now: 0)
        let third = await limiter.attempt("k", now: 1)
        let refilled = await limiter.attempt("k", now: 11)
        XCTAssertNil(first)
        XCTAssertNil(second)
        XCTAssertEqual(third ?? 0, 9, accuracy: 0.001)
        XCTAssertNil(refilled)
    }

    func testTokensAreStoredHashedAndRevocable() async throws {
        let hub = try await TestHub.make()
        defer { hub.remove() }
        try await hub.test { client in
            let token = try await client.account("ada")
            XCTAssertTrue(token.hasPrefix("mgp_"))
            let stored = try await hub.service.store.token(hash: Secrets.sha256Hex(token))
            XCTAssertNotNil(stored)
            let raw = try await hub.service.store.token(hash: token)
            XCTAssertNil(raw, "the secret itself is not stored")
            let list = try await client.send(.get, "/api/tokens", token: token)
            XCTAssertFalse(list.text.contains(token))
            do { let r = try await client.send(.delete, "/api/tokens/\(stored!.id)", token: token); XCTAssertEqual(r.status, .noContent) }
            do { let r = try await client.send(.get, "/api/me", token: token); XCTAssertEqual(r.status, .unauthorized) }
        }
    }

    func testRequestBodiesAreBounded() async throws {
        let hub = try await TestHub.make()
        defer { hub.remove() }
        try await hub.test { client in
            let token = try await client.account("ada")
            let huge = #"{"description":""# + String(repeating: "x", count: 2 << 20) + #""}"#
            let r = try await client.send(.put, "/api/models/ada/m", token: token, json: huge)
            XCTAssertEqual(r.status, .contentTooLarge)
        }
    }

    func testCardsAreRenderedEscaped() async throws {
        let hub = try await TestHub.make()
        defer { hub.remove() }
        try await hub.test { client in
            let token = try await client.account("ada")
            let description = #"# Hi\n<script>alert(1)</script> **bold** [x](javascript:alert(1)) [ok](https://example.com/a?b=1&c=2) `<b>`"#
            let r = try await client.send(.put, "/api/models/ada/m", token: token,
                                          json: #"{"description":"\#(description)","tags":["t"]}"#)
            XCTAssertEqual(r.status, .created, r.text)
            let page = try await client.send(.get, "/models/ada/m")
            XCTAssertEqual(page.status, .ok)
            XCTAssertFalse(page.text.contains("<script>alert"), page.text)
            XCTAssertTrue(page.text.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
            XCTAssertTrue(page.text.contains("<strong>bold</strong>"))
            XCTAssertFalse(page.text.contains("href=\"javascript:"))
            XCTAssertTrue(page.text.contains("<a href=\"https://example.com/a?b=1&amp;c=2\" rel=\"nofollow noopener\">ok</a>"))
            XCTAssertTrue(page.text.contains("<code>&lt;b&gt;</code>"))
        }
        XCTAssertEqual(Markdown.render("\"><img src=x onerror=alert(1)>"), "<p>&quot;&gt;&lt;img src=x onerror=alert(1)&gt;</p>")
        XCTAssertEqual(Markdown.render("- a\n- b"), "<ul><li>a</li><li>b</li></ul>")
        XCTAssertEqual(Markdown.render("```\n<x>\n```"), "<pre><code>&lt;x&gt;</code></pre>")
    }

    func testPagesRender() async throws {
        let hub = try await TestHub.make()
        defer { hub.remove() }
        try await hub.test { client in
            let token = try await client.account("ada")
            try await client.publish("ada/m", TestModels.add(), token: token)
            for path in ["/", "/?q=m&sort=downloads", "/signin", "/signup", "/models/ada/m", "/leaderboard", "/static/hub.js", "/static/hub.css"] {
                let r = try await client.send(.get, path)
                XCTAssertEqual(r.status, .ok, path)
            }
            let model = try await client.send(.get, "/models/ada/m")
            XCTAssertTrue(model.text.contains("ADD ×1"), model.text)
            do { let r = try await client.send(.get, "/feed"); XCTAssertEqual(r.status, .seeOther, "signed-out users are sent to sign in") }
        }
    }
}
