import Foundation
import XCTest

/// Finds the shared test data (real models, images, LiteRT goldens).
///
/// Looks at `$MAGPIE_TESTDATA` first, then `../shared/testdata` beside the package root. Tests that need it call
/// `try TestData.require()`, which skips with a message saying what is missing when neither exists, as on a user's
/// fresh clone.
public enum TestData {
    /// The package root (two levels above this file's folder).
    public static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The test-data folder, if one exists.
    public static var root: URL? {
        var candidates: [URL] = []
        if let env = ProcessInfo.processInfo.environment["MAGPIE_TESTDATA"], !env.isEmpty {
            candidates.append(URL(fileURLWithPath: env))
        }
        candidates.append(packageRoot.deletingLastPathComponent().appendingPathComponent("shared/testdata"))
        return candidates.first { FileManager.default.fileExists(atPath: $0.appendingPathComponent("models").path) }
    }

    /// The `magpie` executable the test build made: beside the test bundle (`swift build --build-tests` puts it
    /// there), else in `.build/debug` or `.build/release`. Tests that run the command line call this; it throws an
    /// `XCTSkip` starting with `context` when the executable was not built.
    public static func magpieExecutable(_ context: String = "", file: StaticString = #filePath,
                                        line: UInt = #line) throws -> URL {
        let testBundleFolder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        var candidates = [testBundleFolder, testBundleFolder.deletingLastPathComponent()]
        for configuration in ["debug", "release"] {
            candidates.append(packageRoot.appendingPathComponent(".build/\(configuration)"))
        }
        if let found = candidates.map({ $0.appendingPathComponent("magpie") })
            .first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) {
            return found
        }
        throw XCTSkip(context + "the magpie executable is not built (swift build --build-tests builds it beside the test bundle)",
                      file: file, line: line)
    }

    /// The test-data folder, or an `XCTSkip` that says it is absent.
    public static func require(file: StaticString = #filePath, line: UInt = #line) throws -> URL {
        guard let root else {
            throw XCTSkip("shared test data not found: set MAGPIE_TESTDATA or place it at ../shared/testdata (real models and LiteRT goldens)",
                          file: file, line: line)
        }
        return root
    }

    /// Path of a model under `models/`, skipping when the data is absent.
    public static func model(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let url = try require(file: file, line: line).appendingPathComponent("models/\(name)")
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw XCTSkip("test model \(name) is missing from \(url.deletingLastPathComponent().path)", file: file, line: line)
        }
        return url.path
    }

    /// Path of an image under `images/`, skipping when the data is absent.
    public static func image(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let url = try require(file: file, line: line).appendingPathComponent("images/\(name)")
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw XCTSkip("test image \(name) is missing from \(url.deletingLastPathComponent().path)", file: file, line: line)
        }
        return url.path
    }
}
