import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import NIOCore

/// An error answered as RFC 9457 problem details (`application/problem+json`).
///
/// ```swift
/// throw Problem(.unprocessableContent, title: "Not a valid model", detail: "not a TFLite model: wrong identifier")
/// ```
public struct Problem: Error, HTTPResponseError, Sendable, Equatable {
    public var status: HTTPResponse.Status
    public var title: String
    public var detail: String?
    /// Extra headers (`Retry-After`, `WWW-Authenticate`).
    public var headers: HTTPFields

    public init(_ status: HTTPResponse.Status, title: String? = nil, detail: String? = nil, headers: HTTPFields = [:]) {
        self.status = status
        self.title = title ?? status.reasonPhrase
        self.detail = detail
        self.headers = headers
    }

    /// The JSON body.
    public struct Body: Codable, Sendable, Equatable {
        public var type: String
        public var title: String
        public var status: Int
        public var detail: String?
    }

    public var body: Body { Body(type: "about:blank", title: title, status: status.code, detail: detail) }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = (try? encoder.encode(body)) ?? Data()
        var fields = headers
        fields[.contentType] = "application/problem+json"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    public static func notFound(_ detail: String) -> Problem { Problem(.notFound, detail: detail) }
    public static func unauthorized(_ detail: String = "sign in or send 'Authorization: Bearer <token>'") -> Problem {
        Problem(.unauthorized, detail: detail, headers: [.wwwAuthenticate: "Bearer realm=\"magpie\""])
    }
    public static func forbidden(_ detail: String) -> Problem { Problem(.forbidden, detail: detail) }
    public static func badRequest(_ detail: String) -> Problem { Problem(.badRequest, detail: detail) }
}

/// Turns every error that leaves a route into problem details: `Problem` as is, Hummingbird's `HTTPError` with its
/// status, store conflicts as 409, anything else as a 500 whose detail does not leak internals (it is logged).
struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let p as Problem {
            throw p
        } catch let e as HTTPError {
            throw Problem(e.status, detail: e.body)
        } catch let e as StoreError {
            switch e {
            case let .conflict(s): throw Problem(.conflict, detail: s)
            case let .notFound(s): throw Problem(.notFound, detail: s)
            case .backend:
                context.logger.error("store failure", metadata: ["error": "\(e)"])
                throw Problem(.internalServerError, detail: "the database failed; see the server log")
            }
        } catch let e as DecodingError {
            throw Problem(.badRequest, title: "Malformed JSON", detail: Self.describe(e))
        } catch let e as HTTPResponseError {
            throw Problem(e.status)
        } catch {
            context.logger.error("unhandled error", metadata: ["error": "\(error)"])
            throw Problem(.internalServerError, detail: "internal error; see the server log")
        }
    }

    static func describe(_ e: DecodingError) -> String {
        switch e {
        case let .keyNotFound(key, _): return "missing field '\(key.stringValue)'"
        case let .typeMismatch(_, c), let .valueNotFound(_, c):
            return "wrong type at '\(c.codingPath.map(\.stringValue).joined(separator: "."))'"
        case .dataCorrupted: return "the body is not valid JSON"
        @unknown default: return "the body could not be decoded"
        }
    }
}
