import Foundation
import MagpieTestSupport
import XCTest

/// Runs Tests/browser/hub_browser_test.py (selenium + Debian's chromium and chromedriver, headless) against a real
/// `magpie serve` on 127.0.0.1 with a temporary data directory. Skips with a message when chromium, chromedriver,
/// selenium or the built `magpie` binary is absent. `scripts/test.sh` installs them.
///
/// `MAGPIE_SCREENSHOT=PATH` keeps a screenshot of the model page with the try-it result (docs/images/hub-model-page.png
/// was made this way).
final class BrowserTests: XCTestCase {
    private func requireBrowser() throws {
        for path in ["/usr/bin/chromium", "/usr/bin/chromedriver"] where !FileManager.default.isExecutableFile(atPath: path) {
            throw XCTSkip("browser test skipped: \(path) is missing (apt-get install chromium chromium-driver)")
        }
        let probe = Process()
        probe.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        probe.arguments = ["python3", "-c", "import selenium"]
        probe.standardOutput = FileHandle.nullDevice
        probe.standardError = FileHandle.nullDevice
        do { try probe.run() } catch { throw XCTSkip("browser test skipped: python3 is missing") }
        probe.waitUntilExit()
        if probe.terminationStatus != 0 {
            throw XCTSkip("browser test skipped: the python module selenium is missing (pip install selenium)")
        }
    }

    func testSignUpUploadSearchTryItDownloadAndSubscribeInChromium() throws {
        try requireBrowser()
        let binary = try TestData.magpieExecutable("browser test skipped: ")
        let data = NSTemporaryDirectory() + "magpie-browser-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: data) }
        let testData = TestData.root
        let server = Process()
        server.executableURL = binary
        // With the shared data the real uint8 MobileNetV2 is uploaded; without it the built-in preset is needed.
        server.arguments = ["serve", "--data", data, "--host", "127.0.0.1", "--port", "0"]
            + (testData != nil ? ["--no-builtin-presets"] : [])
        let output = Pipe()
        server.standardOutput = output
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer {
            if server.isRunning {
                server.terminate()
                server.waitUntilExit()
            }
        }
        var line = Data()
        let deadline = Date().addingTimeInterval(60)
        while !line.contains(UInt8(ascii: "\n")) && Date() < deadline {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line += chunk
        }
        let text = String(decoding: line, as: UTF8.self)
        guard let range = text.range(of: "http://127.0.0.1:") else { return XCTFail("magpie serve said: \(text)") }
        let base = "http://127.0.0.1:" + text[range.upperBound...].prefix { $0.isNumber }

        let script = TestData.packageRoot.appendingPathComponent("Tests/browser/hub_browser_test.py").path
        let python = Process()
        python.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        python.arguments = ["python3", script]
        var environment = ProcessInfo.processInfo.environment
        environment["MAGPIE_HUB_URL"] = base
        if let testData { environment["MAGPIE_TESTDATA"] = testData.path }
        python.environment = environment
        let log = Pipe()
        python.standardOutput = log
        python.standardError = log
        try python.run()
        let logged = log.fileHandleForReading.readDataToEndOfFile()
        python.waitUntilExit()
        let report = String(decoding: logged, as: UTF8.self)
        print(report)
        XCTAssertEqual(python.terminationStatus, 0, report)
    }
}
