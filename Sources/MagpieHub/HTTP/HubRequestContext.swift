import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import NIOCore

/// Who made a request and how they proved it.
public struct Identity: Sendable {
    public enum Method: Sendable, Equatable {
        /// A browser session cookie: unsafe requests need the session's CSRF token.
        case session(csrfToken: String)
        /// `Authorization: Bearer` with a personal API token: no ambient credential, so no CSRF token.
        case token
    }
    public var user: User
    public var method: Method
}

/// The request context of every hub route: the signed-in user, the CSRF token pages embed, the client address.
public struct HubRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?
    /// Set by `SecurityMiddleware`.
    public var identity: Identity?
    /// The CSRF token forms on this page must carry (the session's, or the double-submit cookie's).
    public var csrfToken: String = ""
    /// JSON and form bodies are collected up to this size; model uploads stream and have their own limit.
    public var maxUploadSize: Int { 1 << 20 }

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    /// The signed-in user.
    /// - Throws: 401 problem when there is none.
    public func requireUser() throws -> User {
        guard let user = identity?.user else { throw Problem.unauthorized() }
        return user
    }

    /// The client's IP address for rate limiting ("unknown" when the transport has none, as in router tests).
    public var clientAddress: String { remoteAddress?.ipAddress ?? "unknown" }
}
