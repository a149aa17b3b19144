import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import XCTest
import MagpieTestSupport

@testable import MagpieHub

/// `magpie bench --submit URL`: a real bench run posted to a real `magpie serve`, and its argument checks.
final class BenchSubmitTests: XCTestCase {
    private func run(_ binary: URL, _ arguments: [String], token: String? = nil) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["MAGPIE_HUB_TOKEN"] = token
        process.environment = environment
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    private static func request(_ url: String, method: HTTPMethod = .GET, json: String? = nil,
                                bytes: [UInt8]? = nil, token: String? = nil) async throws -> (Int, String) {
        var request = HTTPClientRequest(url: url)
        request.method = method
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: json))
        } else if let bytes {
            request.body = .bytes(ByteBuffer(bytes: bytes))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        return (Int(response.status.code), String(buffer: try await response.body.collect(upTo: 4 << 20)))
    }

    func testArgumentsAreChecked() throws {
        let binary = try TestData.magpieExecutable()
        let (status, output) = try run(binary, ["bench", "x.tflite", "--submit", "ftp://hub/models/a/b"])
        XCTAssertNotEqual(status, 0)
        XCTAssertTrue(output.contains("--submit needs an http(s) URL"), output)
        let (noToken, text) = try run(binary, ["bench", "x.tflite", "--submit", "http://127.0.0.1:1/models/a/b"])
        XCTAssertNotEqual(noToken, 0)
        XCTAssertTrue(text.contains("--submit needs --token or MAGPIE_HUB_TOKEN"), text)
    }

    func testBenchResultsArePostedToTheHubAndShownOnThePage() async throws {
        let binary = try TestData.magpieExecutable()
        let data = NSTemporaryDirectory() + "magpie-bench-submit-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: data) }
        let server = try CrashConsistencyTests.Server(binary: binary, data: data + "/hub")
        defer { server.stop() }
        let base = server.base
        let (created, _) = try await Self.request("\(base)/api/users", method: .POST,
                                                  json: #"{"name":"ada","password":"correct horse"}"#)
        XCTAssertEqual(created, 201)
        let (issued, tokenJSON) = try await Self.request("\(base)/api/tokens", method: .POST,
                                                         json: #"{"name":"ada","password":"correct horse","label":"t"}"#)
        XCTAssertEqual(issued, 201)
        let token = try API.decoder.decode(API.TokenOut.self, from: Data(tokenJSON.utf8)).token ?? ""
        let model = TestModels.add(seed: 3)
        let (published, text) = try await Self.request("\(base)/api/models/ada/adder/versions", method: .POST,
                                                       bytes: model, token: token)
        XCTAssertEqual(published, 201, text)
        let path = data + "/adder.tflite"
        try Data(model).write(to: URL(fileURLWithPath: path))

        let (status, output) = try run(binary, ["bench", path, "--random-input", "--runs", "5", "--warmup", "0",
                                                "--pause", "0", "--watts", "10", "--machine-name", "test-box",
                                                "--submit", "\(base)/models/ada/adder"], token: token)
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains("submitted 1 result to"), output)
        let (listed, json) = try await Self.request("\(base)/api/models/ada/adder/benchmarks")
        XCTAssertEqual(listed, 200)
        let results = try API.decoder.decode(API.BenchmarksOut.self, from: Data(json.utf8)).results
        XCTAssertEqual(results.count, 1)
        XCTAssertGreaterThan(results.first?.fps ?? 0, 0)
        XCTAssertNotNil(results.first?.fpsPerWatt, "--watts declares power, so fps/W is known")
        XCTAssertEqual(results.first?.version, 1)
        let (_, page) = try await Self.request("\(base)/models/ada/adder")
        XCTAssertEqual(page.components(separatedBy: "<svg").count - 1, 3)

        let (refused, message) = try run(binary, ["bench", path, "--random-input", "--runs", "2", "--warmup", "0",
                                                  "--pause", "0", "--submit", "\(base)/api/models/ada/nothing/benchmarks"],
                                         token: token)
        XCTAssertNotEqual(refused, 0)
        XCTAssertTrue(message.contains("hub answered 404"), message)
    }
}
