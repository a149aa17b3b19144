import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import NIOCore

/// Cookie names.
enum CookieName {
    static let session = "magpie_session"
    static let csrf = "magpie_csrf"
}

/// Authenticates every request and enforces CSRF protection.
///
/// - `Authorization: Bearer mgp_...`: a personal API token (looked up by its SHA-256); an unknown token is a 401.
///   Token requests carry no ambient credential, so they need no CSRF token.
/// - `magpie_session` cookie: a browser session (looked up by SHA-256). Unsafe requests (POST, PUT, PATCH, DELETE)
///   must carry the session's synchronizer token in the `_csrf` form field or the `X-CSRF-Token` header.
/// - Anonymous unsafe requests outside `/api/` (sign-in and sign-up forms) use a double-submit cookie
///   (`magpie_csrf`, set on pages) that the form must repeat.
///
/// It also sets defensive headers on every response (nosniff, frame denial, a same-origin CSP for HTML).
struct SecurityMiddleware: RouterMiddleware {
    typealias Context = HubRequestContext
    let service: HubService

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var request = request
        var context = context
        let path = request.uri.path
        if let authorization = request.headers[.authorization] {
            guard authorization.hasPrefix("Bearer ") else {
                throw Problem.unauthorized("only 'Authorization: Bearer <token>' is accepted")
            }
            let secret = String(authorization.dropFirst("Bearer ".count)).trimmingCharacters(in: .whitespaces)
            guard let token = try await service.store.token(hash: Secrets.sha256Hex(secret)),
                  let user = try await service.store.user(id: token.userID)
            else { throw Problem.unauthorized("the API token is not valid") }
            context.identity = Identity(user: user, method: .token)
        } else if let cookie = request.cookies[CookieName.session]?.value, !cookie.isEmpty,
                  let session = try await service.store.session(tokenHash: Secrets.sha256Hex(cookie), now: Date()),
                  let user = try await service.store.user(id: session.userID)
        {
            context.identity = Identity(user: user, method: .session(csrfToken: session.csrfToken))
        }

        var newCSRFCookie: String?
        switch context.identity?.method {
        case let .session(token):
            context.csrfToken = token
        case .token:
            break
        case nil:
            if let value = request.cookies[CookieName.csrf]?.value, value.count == 64, value.allSatisfy(\.isHexDigit) {
                context.csrfToken = value
            } else {
                newCSRFCookie = Secrets.randomHex()
                context.csrfToken = newCSRFCookie!
            }
        }

        let unsafe = ![.get, .head, .options].contains(request.method)
        if unsafe, context.identity?.method != .token {
            let protected: Bool = if case .session = context.identity?.method { true } else { !path.hasPrefix("/api/") }
            if protected {
                var provided = request.headers[HTTPField.Name("X-CSRF-Token")!]
                if provided == nil, request.headers[.contentType]?.hasPrefix("application/x-www-form-urlencoded") == true {
                    let body = try await request.collectBody(upTo: context.maxUploadSize)
                    provided = FormData(String(buffer: body))["_csrf"]
                }
                guard newCSRFCookie == nil, let provided, Secrets.constantTimeEquals(provided, context.csrfToken) else {
                    throw Problem(.forbidden, title: "CSRF check failed",
                                  detail: "this form is stale or came from another site; reload the page and try again")
                }
            }
        }

        var response = try await next(request, context)
        if let newCSRFCookie, !path.hasPrefix("/api/") {
            response.setCookie(Cookie(name: CookieName.csrf, value: newCSRFCookie, path: "/",
                                      secure: service.configuration.secureCookies, httpOnly: true, sameSite: .lax))
        }
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        response.headers[HTTPField.Name("Referrer-Policy")!] = "same-origin"
        if response.headers[.contentType]?.hasPrefix("text/html") == true {
            response.headers[.contentSecurityPolicy] =
                "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'"
        }
        return response
    }
}

/// An `application/x-www-form-urlencoded` body or query string. Repeated keys keep the first value.
struct FormData {
    private var values: [String: String] = [:]

    init(_ text: String) {
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let key = Self.decode(parts[0]) else { continue }
            let value = parts.count > 1 ? Self.decode(parts[1]) ?? "" : ""
            if values[key] == nil { values[key] = value }
        }
    }

    subscript(_ key: String) -> String? { values[key] }

    private static func decode(_ s: Substring) -> String? {
        s.replacingOccurrences(of: "+", with: " ").removingPercentEncoding
    }
}
