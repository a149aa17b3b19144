import Foundation
import XCTest
import MagpieBench
import MagpieTestSupport

/// `magpie bench` and `magpie report` through the built executable.
final class CommandLineTests: XCTestCase {
    private var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("magpie-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    private func run(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let p = Process()
        p.executableURL = try TestData.magpieExecutable()
        p.arguments = arguments
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    private func model() throws -> String {
        var b = OpModelBuilder()
        // Not an image ([1, 6]), so a bench without an input source must say how to give one.
        let x = b.input("x", .uint8, [1, 6])
        let y = b.tensor("y", .uint8, [2, 3])
        b.op(.reshape, inputs: [x], outputs: [y], options: .reshape(newShape: [2, 3]))
        let url = dir.appendingPathComponent("tiny.tflite")
        try Data(b.build()).write(to: url)
        return url.path
    }

    func testBenchWritesJSONQuietlyAndReportDrawsIt() throws {
        let model = try model()
        let input = dir.appendingPathComponent("in.bin")
        try Data([3, 9, 1, 7, 0, 2]).write(to: input)
        let json = dir.appendingPathComponent("out.json").path
        let bench = try run(["bench", model, "--input", input.path, "--runs", "7", "--pause", "0", "--kernels", "reference",
                             "--threads", "1,2", "--json", json, "--watts", "3"])
        XCTAssertEqual(bench.status, 0, bench.stderr)
        XCTAssertEqual(bench.stdout, "", "--json mode is quiet")
        let doc = try BenchDocument.read(contentsOfFile: json)
        XCTAssertEqual(doc.results.map(\.threads), [1, 2])
        XCTAssertEqual(doc.results[0].samplesNs.count, 7)
        XCTAssertEqual(doc.results[0].input, "file in.bin")
        XCTAssertEqual(doc.results[0].output, [3, 9, 1, 7, 0, 2], "uint8 without quantization: plain values")
        XCTAssertEqual(doc.results[0].top.first?.index, 1)
        XCTAssertEqual(doc.results[0].energy?.source, .declared)

        let charts = dir.appendingPathComponent("charts")
        let html = dir.appendingPathComponent("report.html")
        let report = try run(["report", json, json, "--svg", charts.path, "--html", html.path])
        XCTAssertEqual(report.status, 0, report.stderr)
        XCTAssertTrue(report.stdout.contains("magpie/reference"), report.stdout)
        XCTAssertTrue(report.stdout.contains("tiny"))
        for name in ["fps-linear.svg", "fps-log.svg", "fps-per-watt.svg", "latency.svg"] {
            let svg = try String(contentsOf: charts.appendingPathComponent(name), encoding: .utf8)
            XCTAssertFalse(SVGElements(svg).elements.isEmpty, name)
        }
        let bars = SVGElements(try String(contentsOf: charts.appendingPathComponent("fps-linear.svg"), encoding: .utf8)).withClass("bar")
        XCTAssertEqual(bars.count, 4, "two files of two results each, merged")
        XCTAssertTrue(try String(contentsOf: html, encoding: .utf8).contains("<svg"))
    }

    func testProfilePrintsTablesAndWritesCSV() throws {
        let csv = dir.appendingPathComponent("ops.csv")
        let r = try run(["bench", try model(), "--random-input", "--runs", "3", "--pause", "0", "--kernels", "reference",
                         "--profile", "--profile-runs", "2", "--profile-csv", csv.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("profile of magpie/reference/tiny/t1"), r.stdout)
        XCTAssertTrue(r.stdout.contains("slowest operators (median of 2 profiled runs)"), r.stdout)
        let lines = try String(contentsOf: csv, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines[0], "# magpie/reference/tiny/t1")
        XCTAssertEqual(lines[1], "index,type,median_ms,percent")
        XCTAssertTrue(lines[2].hasPrefix("0,RESHAPE,"), String(lines[2]))
        XCTAssertTrue(lines[2].hasSuffix(",100.000"), "the only operator takes all the time")
    }

    /// `--requantization` reaches Magpie's configurations and names itself in the result where it is not the kernel
    /// set's default; a value that is not one of the two is refused in one line that names them.
    func testRequantizationFlag() throws {
        let json = dir.appendingPathComponent("r.json").path
        for (mode, configuration) in [("reference", "optimized-reference-rounding"), ("xnnpack", "optimized")] {
            let r = try run(["bench", try model(), "--random-input", "--runs", "2", "--pause", "0",
                             "--requantization", mode, "--json", json])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertEqual(try BenchDocument.read(contentsOfFile: json).results.map(\.runtime.configuration),
                           [configuration], mode)
        }
        let bad = try run(["bench", try model(), "--random-input", "--requantization", "exact"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("reference") && bad.stderr.contains("xnnpack"), bad.stderr)
    }

    func testFailuresAreOneLineWithNonZeroStatus() throws {
        let missing = try run(["bench", dir.appendingPathComponent("missing.tflite").path, "--random-input", "--pause", "0"])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains("missing.tflite"), missing.stderr)
        XCTAssertEqual(missing.stderr.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").count, 1, missing.stderr)

        let noInput = try run(["bench", try model()])
        XCTAssertNotEqual(noInput.status, 0)
        XCTAssertTrue(noInput.stderr.contains("--random-input"), noInput.stderr)

        let bad = dir.appendingPathComponent("bad.json")
        try Data(#"{"schema": "something-else"}"#.utf8).write(to: bad)
        let report = try run(["report", bad.path])
        XCTAssertNotEqual(report.status, 0)
        XCTAssertTrue(report.stderr.contains("expected 'magpie-bench/1'"), report.stderr)

        let runtime = try run(["bench", try model(), "--random-input", "--runtime", "tensorrt"])
        XCTAssertNotEqual(runtime.status, 0)
        XCTAssertTrue(runtime.stderr.contains("unknown runtime 'tensorrt'"), runtime.stderr)
    }
}
