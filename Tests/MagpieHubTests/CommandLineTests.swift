import Foundation
import XCTest
import MagpieTestSupport

/// `magpie serve` and `magpie hub` argument checking: help text and exit codes.
final class HubCommandLineTests: XCTestCase {
    private func magpie(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let binary = try TestData.magpieExecutable()
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        var environment = ProcessInfo.processInfo.environment
        environment["MAGPIE_HUB_TOKEN"] = nil
        process.environment = environment
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    func testHelpNamesTheOptions() throws {
        let serve = try magpie(["serve", "--help"])
        XCTAssertEqual(serve.status, 0)
        for option in ["--data", "--host", "--port", "--database", "--blobs", "--preload"] {
            XCTAssertTrue(serve.output.contains(option), option)
        }
        let hub = try magpie(["hub", "--help"])
        XCTAssertEqual(hub.status, 0)
        XCTAssertTrue(hub.output.contains("push") && hub.output.contains("pull"))
    }

    func testBadArgumentsExitNonZeroWithAMessage() throws {
        let port = try magpie(["serve", "--port", "70000"])
        XCTAssertNotEqual(port.status, 0)
        XCTAssertTrue(port.output.contains("--port"), port.output)
        let database = try magpie(["serve", "--database", "mysql://x"])
        XCTAssertNotEqual(database.status, 0)
        XCTAssertTrue(database.output.contains("sqlite:PATH"), database.output)
        let name = try magpie(["hub", "pull", "ada/.."])
        XCTAssertNotEqual(name.status, 0)
        XCTAssertTrue(name.output.contains("not a valid name"), name.output)
        let token = try magpie(["hub", "push", "m.tflite", "ada/m"])
        XCTAssertNotEqual(token.status, 0)
        XCTAssertTrue(token.output.contains("MAGPIE_HUB_TOKEN"), token.output)
    }
}
