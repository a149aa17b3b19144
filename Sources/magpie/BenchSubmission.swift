import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore

/// `magpie bench --submit URL`: posts a magpie-bench/1 document to a hub model's benchmark endpoint.
enum BenchSubmission {
    /// The benchmark endpoint for `url`: kept when it ends in `/api/models/OWNER/NAME/benchmarks` (a `?version=N`
    /// query is kept too); a model page `.../models/OWNER/NAME` becomes `.../api/models/OWNER/NAME/benchmarks`.
    /// - Throws: `ValidationError` for anything else.
    static func endpoint(_ url: String) throws -> String {
        guard var components = URLComponents(string: url), let scheme = components.scheme,
              ["http", "https"].contains(scheme), components.host != nil
        else { throw ValidationError("--submit needs an http(s) URL, not '\(url)'") }
        var path = components.path
        while path.hasSuffix("/") { path.removeLast() }
        let parts = path.split(separator: "/").map(String.init)
        if parts.count >= 5, parts.suffix(5).first == "api", parts[parts.count - 4] == "models", parts.last == "benchmarks" {
            components.path = path
        } else if parts.count >= 3, parts[parts.count - 3] == "models" {
            let prefix = parts.dropLast(3).map { "/" + $0 }.joined()
            components.path = "\(prefix)/api/models/\(parts[parts.count - 2])/\(parts[parts.count - 1])/benchmarks"
        } else {
            throw ValidationError("--submit wants http://HOST/api/models/OWNER/NAME/benchmarks or http://HOST/models/OWNER/NAME")
        }
        guard let result = components.string else { throw ValidationError("--submit: cannot use '\(url)'") }
        return result
    }

    /// `--token`, else `MAGPIE_HUB_TOKEN`.
    static func token(_ option: String?) -> String? {
        option ?? ProcessInfo.processInfo.environment["MAGPIE_HUB_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Posts the document; returns how many results the hub stored.
    /// - Throws: `CommandFailure` with the hub's problem detail when it refuses.
    static func post(_ document: Data, to url: String, token: String) throws -> Int {
        final class Box: @unchecked Sendable { var count = 0 }
        let box = Box()
        try blockingRun {
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: document))
            let response = try await HTTPClient.shared.execute(request, timeout: .minutes(2))
            let body = try await response.body.collect(upTo: 4 << 20)
            struct Stored: Decodable { var results: [AnyResult] }
            struct AnyResult: Decodable {}
            struct Problem: Decodable { var title: String?; var detail: String? }
            guard response.status == .created else {
                let problem = try? JSONDecoder().decode(Problem.self, from: Data(body.readableBytesView))
                throw CommandFailure("hub answered \(response.status.code): \(problem?.detail ?? problem?.title ?? response.status.reasonPhrase)")
            }
            box.count = (try? JSONDecoder().decode(Stored.self, from: Data(body.readableBytesView)).results.count) ?? 0
        }
        return box.count
    }
}
