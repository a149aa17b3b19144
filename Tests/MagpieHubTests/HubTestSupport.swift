import Foundation
import Hummingbird
import HummingbirdTesting
import MagpieModel
import MagpieTestSupport
import NIOCore
import XCTest

@testable import MagpieHub

/// A hub on a fresh temporary data directory, with a cheap bcrypt cost.
struct TestHub {
    let directory: String
    let service: HubService

    static func make(maxUploadSize: Int64 = 1 << 20, signInBurst: Int = 5, file: StaticString = #filePath,
                     configure: (inout HubConfiguration) -> Void = { _ in }) async throws -> TestHub {
        let directory = NSTemporaryDirectory() + "magpie-hub-test-\(UUID().uuidString)"
        var config = HubConfiguration(dataDirectory: directory, port: 0, maxUploadSize: maxUploadSize, bcryptCost: 4,
                                      signInBurst: signInBurst, signInRefillSeconds: 3600)
        config.host = "127.0.0.1"
        configure(&config)
        return TestHub(directory: directory, service: try await makeHubService(config))
    }

    var app: some ApplicationProtocol { buildApplication(service: service) }

    /// Runs `body` against the router (no sockets).
    func test<T>(_ body: @Sendable (any TestClientProtocol) async throws -> T) async throws -> T {
        try await app.test(.router, body)
    }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }
}

/// Tiny valid models: `x + c` with a constant that depends on `seed`, so each seed has different bytes.
enum TestModels {
    static func add(seed: Float = 1, size: Int = 4) -> [UInt8] {
        var b = OpModelBuilder()
        let x = b.input("x", .float32, [1, size])
        let values = (0..<size).map { Float($0) + seed }
        let c = b.constant("c", .float32, [1, size], bytes: values.withUnsafeBytes { Array($0) })
        let y = b.tensor("y", .float32, [1, size])
        b.op(.add, inputs: [x, c], outputs: [y], options: .arithmetic(activation: .none))
        return b.build()
    }

    /// A toy segmenter: `image + c` on a float [1, 4, 4, 3] input whose constant makes channel `winner` the largest
    /// at every pixel, so its class map is `winner` everywhere.
    static func segmenter(winner: Int = 2) -> [UInt8] {
        var b = OpModelBuilder()
        let x = b.input("image", .float32, [1, 4, 4, 3])
        let values = (0..<48).map { Float($0 % 3 == winner ? 100 : 0) }
        let c = b.constant("c", .float32, [1, 4, 4, 3], bytes: values.withUnsafeBytes { Array($0) })
        let y = b.tensor("scores", .float32, [1, 4, 4, 3])
        b.op(.add, inputs: [x, c], outputs: [y], options: .arithmetic(activation: .none))
        return b.build()
    }

    /// A 24-bit BMP of `width` × `height` pixels of one colour.
    static func bmp(width: Int, height: Int, rgb: (UInt8, UInt8, UInt8) = (200, 30, 30)) -> [UInt8] {
        let rowSize = (width * 3 + 3) / 4 * 4
        let imageSize = rowSize * height
        func le32(_ v: Int) -> [UInt8] { (0..<4).map { UInt8((v >> (8 * $0)) & 0xFF) } }
        func le16(_ v: Int) -> [UInt8] { (0..<2).map { UInt8((v >> (8 * $0)) & 0xFF) } }
        var out: [UInt8] = Array("BM".utf8) + le32(54 + imageSize) + le32(0) + le32(54)
        out += le32(40) + le32(width) + le32(height) + le16(1) + le16(24) + le32(0) + le32(imageSize)
        out += le32(2835) + le32(2835) + le32(0) + le32(0)
        for _ in 0..<height {
            var row: [UInt8] = []
            for _ in 0..<width { row += [rgb.2, rgb.1, rgb.0] }
            row += [UInt8](repeating: 0, count: rowSize - width * 3)
            out += row
        }
        return out
    }

    /// A valid flatbuffer whose operator the engine does not run.
    static func unsupported() -> [UInt8] {
        var b = OpModelBuilder()
        let x = b.input("x", .float32, [1, 4])
        let y = b.tensor("y", .float32, [1, 4])
        b.op(BuiltinOperator(rawValue: 126), inputs: [x], outputs: [y])
        return b.build()
    }
}

extension TestClientProtocol {
    func send(_ method: HTTPRequest.Method, _ uri: String, token: String? = nil, headers: HTTPFields = [:],
              json: String? = nil, bytes: [UInt8]? = nil) async throws -> TestResponse {
        var headers = headers
        if let token { headers[.authorization] = "Bearer \(token)" }
        var body: ByteBuffer?
        if let json {
            headers[.contentType] = "application/json"
            body = ByteBuffer(string: json)
        } else if let bytes {
            headers[.contentType] = "application/octet-stream"
            body = ByteBuffer(bytes: bytes)
        }
        return try await executeRequest(uri: uri, method: method, headers: headers, body: body)
    }

    /// Signs up `name` and returns a fresh API token.
    func account(_ name: String, password: String = "correct horse") async throws -> String {
        let created = try await send(.post, "/api/users", json: #"{"name":"\#(name)","password":"\#(password)"}"#)
        XCTAssertEqual(created.status, .created, String(buffer: created.body))
        let token = try await send(.post, "/api/tokens", json: #"{"name":"\#(name)","password":"\#(password)","label":"test"}"#)
        XCTAssertEqual(token.status, .created, String(buffer: token.body))
        return try API.decoder.decode(API.TokenOut.self, from: Data(buffer: token.body)).token ?? ""
    }

    @discardableResult
    func publish(_ model: String, _ bytes: [UInt8], token: String) async throws -> TestResponse {
        try await send(.post, "/api/models/\(model)/versions", token: token, bytes: bytes)
    }
}

extension Data {
    init(buffer: ByteBuffer) { self.init(buffer.readableBytesView) }
}

extension TestResponse {
    /// The problem details body.
    var problem: Problem.Body? { try? JSONDecoder().decode(Problem.Body.self, from: Data(buffer: body)) }
    var text: String { String(buffer: body) }

    func decode<T: Decodable>(_ type: T.Type) throws -> T { try API.decoder.decode(T.self, from: Data(buffer: body)) }
}
