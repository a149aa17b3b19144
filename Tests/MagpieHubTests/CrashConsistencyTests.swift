import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import XCTest
import MagpieTestSupport

@testable import MagpieHub

#if canImport(Glibc)
import Glibc
#endif

/// Starts `magpie serve` as a child process, uploads concurrently, kills it with SIGKILL mid-upload, restarts it
/// and checks the store: every committed version has its blob with the right hash, no blob without a version, no
/// temporary file left, and every upload answered 201 before the kill is still there.
final class CrashConsistencyTests: XCTestCase {
    /// A running `magpie serve`.
    final class Server {
        let process = Process()
        let port: Int
        private let output = Pipe()

        init(binary: URL, data: String) throws {
            process.executableURL = binary
            process.arguments = ["serve", "--data", data, "--host", "127.0.0.1", "--port", "0", "--no-builtin-presets"]
            process.standardOutput = output
            process.standardError = FileHandle.nullDevice
            try process.run()
            // The first line says where it listens.
            var line = Data()
            let handle = output.fileHandleForReading
            let deadline = Date().addingTimeInterval(60)
            while !line.contains(UInt8(ascii: "\n")) && Date() < deadline {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                line += chunk
            }
            let text = String(decoding: line, as: UTF8.self)
            guard let range = text.range(of: "127.0.0.1:"),
                  let port = Int(text[range.upperBound...].prefix { $0.isNumber })
            else {
                process.terminate()
                throw XCTSkip("magpie serve did not report its port: \(text)")
            }
            self.port = port
        }

        var base: String { "http://127.0.0.1:\(port)" }

        func kill9() {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }

        func stop() {
            if process.isRunning {
                process.terminate()
                process.waitUntilExit()
            }
        }
    }

    private static func request(_ url: String, method: HTTPMethod = .GET, token: String? = nil, json: String? = nil,
                         body: HTTPClientRequest.Body? = nil) async throws -> (Int, ByteBuffer) {
        var request = HTTPClientRequest(url: url)
        request.method = method
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: json))
        } else if let body {
            request.body = body
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        return (Int(response.status.code), try await response.body.collect(upTo: 1 << 20))
    }

    /// Uploads every model concurrently; every third one is slow.
    private static func startUploads(_ models: [[UInt8]], base: String, token: String, log: UploadLog) -> Task<Void, Never> {
        Task.detached {
            await withTaskGroup(of: Void.self) { group in
                for i in models.indices {
                    let bytes = models[i]
                    let url = "\(base)/api/models/ada/m\(i)/versions"
                    group.addTask { await upload(bytes, slow: i % 3 == 2, to: url, token: token, log: log) }
                }
            }
        }
    }

    /// Uploads one model; a slow upload sends half its bytes and then waits 30 s (the server is killed meanwhile).
    private static func upload(_ bytes: [UInt8], slow: Bool, to url: String, token: String, log: UploadLog) async {
        let body: HTTPClientRequest.Body
        if slow {
            let half = bytes.count / 2
            let stream = AsyncStream<ByteBuffer> { continuation in
                continuation.yield(ByteBuffer(bytes: bytes[..<half]))
                Task {
                    try? await Task.sleep(for: .seconds(30))
                    continuation.yield(ByteBuffer(bytes: bytes[half...]))
                    continuation.finish()
                }
            }
            body = .stream(stream, length: .known(Int64(bytes.count)))
        } else {
            body = .bytes(ByteBuffer(bytes: bytes))
        }
        do {
            let (code, _) = try await request(url, method: .POST, token: token, body: body)
            if code == 201 { await log.add(Secrets.sha256Hex(bytes: bytes)) }
        } catch {}
    }

    func testKillDuringConcurrentUploadsLeavesAConsistentStore() async throws {
        let magpie = try TestData.magpieExecutable()
        let data = NSTemporaryDirectory() + "magpie-crash-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: data) }
        let server = try Server(binary: magpie, data: data)
        defer { server.stop() }

        let (created, _) = try await Self.request("\(server.base)/api/users", method: .POST, json: #"{"name":"ada","password":"correct horse"}"#)
        XCTAssertEqual(created, 201)
        let (status, tokenBody) = try await Self.request("\(server.base)/api/tokens", method: .POST,
                                                    json: #"{"name":"ada","password":"correct horse"}"#)
        XCTAssertEqual(status, 201)
        let token = try API.decoder.decode(API.TokenOut.self, from: Data(tokenBody.readableBytesView)).token ?? ""

        // Quick uploads that complete, and slow ones that are half sent when the server dies.
        let models = (0..<12).map { TestModels.add(seed: Float($0), size: 64) }
        let committed = UploadLog()
        let base = server.base
        let uploads = Self.startUploads(models, base: base, token: token, log: committed)
        // Let the quick ones finish while the slow ones hang mid-body, then kill.
        let deadline = Date().addingTimeInterval(30)
        while await committed.count < 8 && Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
        try await Task.sleep(for: .milliseconds(300))
        server.kill9()
        uploads.cancel()
        let committedBeforeKill = await committed.digests
        XCTAssertGreaterThanOrEqual(committedBeforeKill.count, 8, "the quick uploads finished")
        let leftovers = (try? FileManager.default.contentsOfDirectory(atPath: "\(data)/store/tmp")) ?? []
        XCTAssertFalse(leftovers.isEmpty, "half-sent uploads were in progress at the kill")

        // Restart: recovery runs before serving.
        let restarted = try Server(binary: magpie, data: data)
        defer { restarted.stop() }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: "\(data)/store/tmp"), [], "temporary files cleaned at startup")
        let store = try SQLiteStore(path: "\(data)/hub.sqlite")
        let blobs = try FileBlobStore(root: "\(data)/store")
        let referenced = try await store.referencedBlobs()
        let stored = Set(try blobs.allDigests())
        XCTAssertEqual(referenced, stored, "every version has its blob and every blob has a version")
        for digest in stored { XCTAssertTrue(try blobs.verify(digest), "blob \(digest) has the right hash") }
        XCTAssertTrue(committedBeforeKill.isSubset(of: referenced), "every 201 survived the kill")
        // And the restarted server serves them.
        let (listing, body) = try await Self.request("\(restarted.base)/api/models?owner=ada&per_page=100")
        XCTAssertEqual(listing, 200)
        let page = try API.decoder.decode(API.SearchOut.self, from: Data(body.readableBytesView))
        XCTAssertEqual(page.models.filter { $0.latestVersion != nil }.count, referenced.count)
        for model in page.models {
            let (code, _) = try await Self.request("\(restarted.base)/api/models/ada/\(model.name)/versions/latest/file")
            XCTAssertEqual(code, 200)
        }
    }
}

/// Digests of uploads that were answered 201.
actor UploadLog {
    private(set) var digests: Set<String> = []
    var count: Int { digests.count }
    func add(_ digest: String) { digests.insert(digest) }
}
