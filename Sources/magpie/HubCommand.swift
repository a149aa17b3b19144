import ArgumentParser
import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import NIOHTTP1

/// `magpie hub`: publish to and fetch from a Magpie Hub.
struct Hub: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Push models to a Magpie Hub and pull them back.",
        discussion: """
            The hub is --hub or MAGPIE_HUB_URL (default http://127.0.0.1:8080). Pushing needs a personal API token \
            (create one on the hub's Tokens page or with POST /api/tokens): --token or MAGPIE_HUB_TOKEN.

            Examples:
              magpie hub push mobilenet_v2.tflite ada/mobilenet-v2
              magpie hub pull ada/mobilenet-v2            # latest version
              magpie hub pull ada/mobilenet-v2@3 -o model.tflite
            """,
        subcommands: [HubPush.self, HubPull.self])
}

/// Options every hub command takes.
struct HubOptions: ParsableArguments {
    @Option(help: "The hub's base URL (default: MAGPIE_HUB_URL or http://127.0.0.1:8080).")
    var hub: String?

    @Option(help: "Personal API token (default: MAGPIE_HUB_TOKEN).")
    var token: String?

    var baseURL: String {
        let url = hub ?? ProcessInfo.processInfo.environment["MAGPIE_HUB_URL"] ?? "http://127.0.0.1:8080"
        return url.hasSuffix("/") ? String(url.dropLast()) : url
    }

    var resolvedToken: String? { token ?? ProcessInfo.processInfo.environment["MAGPIE_HUB_TOKEN"] }
}

/// `owner/name` or `owner/name@version`.
struct ModelReference {
    var owner: String
    var name: String
    var version: String

    init(_ text: String, allowVersion: Bool) throws {
        var rest = Substring(text)
        version = "latest"
        if let at = rest.lastIndex(of: "@") {
            guard allowVersion else { throw ValidationError("a version cannot be given here: '\(text)'") }
            version = String(rest[rest.index(after: at)...])
            rest = rest[..<at]
            guard version == "latest" || (Int(version).map { $0 > 0 } ?? false) else {
                throw ValidationError("the version in '\(text)' must be a number or 'latest'")
            }
        }
        let parts = rest.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2 else { throw ValidationError("expected OWNER/NAME, got '\(text)'") }
        owner = String(parts[0])
        name = String(parts[1])
        for part in [owner, name] where !Self.isName(part) {
            throw ValidationError("'\(part)' is not a valid name (a-z, 0-9, '-', '_', '.', at most 64, no '..')")
        }
    }

    /// The hub's name rule (MagpieHub's `Names.isValid`).
    static func isName(_ s: String) -> Bool {
        guard (1...64).contains(s.utf8.count), !s.contains(".."), let first = s.unicodeScalars.first,
              ("a"..."z").contains(first) || ("0"..."9").contains(first)
        else { return false }
        return s.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || "-_.".unicodeScalars.contains($0) }
    }

    var path: String { "/api/models/\(owner)/\(name)" }
}

/// The problem details a hub answers with.
private struct ProblemBody: Decodable {
    var title: String?
    var detail: String?
}

private func failure(_ status: HTTPResponseStatus, _ body: ByteBuffer) -> CommandFailure {
    let problem = try? JSONDecoder().decode(ProblemBody.self, from: Data(body.readableBytesView))
    return CommandFailure("hub answered \(status.code): \(problem?.detail ?? problem?.title ?? status.reasonPhrase)")
}

private func hexSHA256(_ digest: SHA256.Digest) -> String { digest.map { String(format: "%02x", $0) }.joined() }

/// `magpie hub push FILE owner/name`.
struct HubPush: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "push",
        abstract: "Upload a .tflite file as a new version of OWNER/NAME (created if missing).")

    @Argument(help: "The .tflite file.")
    var file: String

    @Argument(help: "OWNER/NAME on the hub.")
    var model: String

    @OptionGroup var options: HubOptions

    func validate() throws {
        _ = try ModelReference(model, allowVersion: false)
        guard options.resolvedToken != nil else { throw ValidationError("pushing needs --token or MAGPIE_HUB_TOKEN") }
    }

    func run() throws {
        let reference = try ModelReference(model, allowVersion: false)
        guard let data = FileManager.default.contents(atPath: file) else { throw CommandFailure("cannot read '\(file)'") }
        let localHash = hexSHA256(SHA256.hash(data: data))
        let url = options.baseURL + reference.path + "/versions"
        let token = options.resolvedToken ?? ""
        try blockingRun {
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
            request.headers.add(name: "Content-Type", value: "application/octet-stream")
            request.body = .bytes(ByteBuffer(bytes: data))
            let response = try await HTTPClient.shared.execute(request, timeout: .minutes(10))
            let body = try await response.body.collect(upTo: 1 << 20)
            guard response.status == .created else { throw failure(response.status, body) }
            struct Published: Decodable {
                struct Version: Decodable { var number: Int; var sha256: String; var size: Int }
                var version: Version
            }
            let published = try JSONDecoder().decode(Published.self, from: Data(body.readableBytesView))
            guard published.version.sha256 == localHash else {
                throw CommandFailure("the hub stored sha256 \(published.version.sha256) but the file has \(localHash)")
            }
            print("\(reference.owner)/\(reference.name)@\(published.version.number)  sha256 \(localHash)  \(published.version.size) bytes")
        }
    }
}

/// `magpie hub pull owner/name[@version]`.
struct HubPull: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pull",
        abstract: "Download a version of OWNER/NAME and check its SHA-256.")

    @Argument(help: "OWNER/NAME or OWNER/NAME@VERSION (default: latest).")
    var model: String

    @Option(name: [.short, .customLong("output")], help: "Where to write the file (default: NAME.tflite).")
    var output: String?

    @OptionGroup var options: HubOptions

    func validate() throws { _ = try ModelReference(model, allowVersion: true) }

    func run() throws {
        let reference = try ModelReference(model, allowVersion: true)
        let destination = output ?? "\(reference.name).tflite"
        let url = options.baseURL + reference.path + "/versions/\(reference.version)/file"
        let token = options.resolvedToken
        try blockingRun {
            var request = HTTPClientRequest(url: url)
            if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
            let response = try await HTTPClient.shared.execute(request, timeout: .minutes(10))
            guard response.status == .ok else {
                throw failure(response.status, try await response.body.collect(upTo: 1 << 20))
            }
            let etag = response.headers.first(name: "ETag")?.trimmingCharacters(in: CharacterSet(charactersIn: "\"W/")) ?? ""
            let temporary = destination + ".part-\(UUID().uuidString.prefix(8))"
            guard FileManager.default.createFile(atPath: temporary, contents: nil),
                  let handle = FileHandle(forWritingAtPath: temporary)
            else { throw CommandFailure("cannot write '\(temporary)'") }
            var hasher = SHA256()
            var size = 0
            do {
                for try await chunk in response.body {
                    let bytes = Data(chunk.readableBytesView)
                    hasher.update(data: bytes)
                    try handle.write(contentsOf: bytes)
                    size += bytes.count
                }
                try handle.synchronize()
                try handle.close()
            } catch {
                try? handle.close()
                try? FileManager.default.removeItem(atPath: temporary)
                throw error
            }
            let digest = hexSHA256(hasher.finalize())
            guard digest == etag else {
                try? FileManager.default.removeItem(atPath: temporary)
                throw CommandFailure("download corrupted: sha256 \(digest), the hub says \(etag.isEmpty ? "nothing" : etag)")
            }
            if FileManager.default.fileExists(atPath: destination) { try FileManager.default.removeItem(atPath: destination) }
            try FileManager.default.moveItem(atPath: temporary, toPath: destination)
            print("\(destination)  sha256 \(digest)  \(size) bytes")
        }
    }
}
