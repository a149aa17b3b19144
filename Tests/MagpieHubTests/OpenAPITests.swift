import Foundation
import XCTest
import Yams

@testable import MagpieHub

/// docs/openapi.yaml: valid, served as is, and documenting every API route.
final class OpenAPITests: XCTestCase {
    static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    private func document() throws -> String {
        try String(contentsOf: Self.repositoryRoot.appendingPathComponent("docs/openapi.yaml"), encoding: .utf8)
    }

    func testServedDocumentIsTheOneInDocs() throws {
        XCTAssertEqual(OpenAPIDocument.yaml, try document().trimmingCharacters(in: .newlines),
                       "run scripts/embed-openapi.sh after editing docs/openapi.yaml")
    }

    func testEveryRouteIsDocumented() throws {
        guard let root = try Yams.load(yaml: try document()) as? [String: Any],
              let paths = root["paths"] as? [String: Any]
        else { return XCTFail("no paths") }
        XCTAssertTrue((root["openapi"] as? String)?.hasPrefix("3.1") ?? false)
        var documented = Set<String>()
        for (path, item) in paths {
            for method in (item as? [String: Any])?.keys ?? [:].keys where method != "parameters" {
                documented.insert("\(method.uppercased()) \(path)")
            }
        }
        XCTAssertEqual(Set(APIRoutes.documentedRoutes), documented)
        // And the router has exactly those API routes.
        let router = makeRouter(service: try makeService())
        let routed = Set(router.routes.filter { $0.path.description.hasPrefix("/api") }
            .map { "\($0.method.rawValue) \($0.path.description)" })
        XCTAssertEqual(routed, documented)
    }

    private func makeService() throws -> HubService {
        let directory = NSTemporaryDirectory() + "magpie-openapi-\(UUID().uuidString)"
        addTeardownBlock { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return HubService(store: try SQLiteStore(path: "\(directory)/db.sqlite"),
                          blobs: try FileBlobStore(root: "\(directory)/store"),
                          configuration: HubConfiguration(dataDirectory: directory, bcryptCost: 4))
    }

    func testValidatesWithOpenAPISpecValidator() throws {
        let python = Process()
        python.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        python.arguments = ["python3", "-c", """
            import sys
            try:
                from openapi_spec_validator import validate
                from openapi_spec_validator.readers import read_from_filename
            except ImportError:
                sys.exit(3)
            d, _ = read_from_filename(sys.argv[1]); validate(d)
            """, Self.repositoryRoot.appendingPathComponent("docs/openapi.yaml").path]
        let pipe = Pipe()
        python.standardError = pipe
        do { try python.run() } catch { throw XCTSkip("python3 is not installed: \(error)") }
        python.waitUntilExit()
        if python.terminationStatus == 3 || python.terminationStatus == 127 {
            throw XCTSkip("python3 or openapi-spec-validator is missing (pip install openapi-spec-validator)")
        }
        let err = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertEqual(python.terminationStatus, 0, err)
    }
}
