import XCTest
import MagpieBench

/// The "Magpie vs peers" section: ratios between Magpie and each peer, computed from synthetic results only.
final class RatioTableTests: XCTestCase {
    /// A result whose report figures are set directly. The ratio table reads only fps, init, first inference and
    /// peak RSS, so overriding them (instead of deriving them from made-up samples) keeps each test's arithmetic visible.
    private func result(_ runtime: String, _ configuration: String, model: String = "m", threads: Int = 1,
                        machine: String = "box", fps: Double, initMs: Double = 10, firstMs: Double = 5,
                        rssMiB: UInt64 = 40, round: Int = 1) -> BenchResult {
        let suffix = round > 1 ? "/r\(round)" : ""
        var r = Fixtures.result(id: "\(runtime)/\(configuration)/\(model)/t\(threads)\(suffix)", runtime: runtime,
                                model: model, threads: threads, machine: machine)
        r.runtime = RuntimeInfo(name: runtime, version: "1.0", configuration: configuration)
        r.fps = fps
        r.initMs = initMs
        r.firstInferenceMs = firstMs
        r.resources.peakRSSBytes = rssMiB << 20
        return r
    }

    /// The cells of the table line for one Magpie/peer pair (columns are separated by two or more spaces).
    private func cells(of table: String, magpie: String, peer: String) -> [String]? {
        table.split(separator: "\n").map { line in
            line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        }.first { $0.count > 4 && $0[3] == magpie && $0[4] == peer }
    }

    func testRatiosOfOnePairComeFromTheResults() throws {
        let magpie = result("magpie", "optimized", fps: 200, initMs: 10, firstMs: 5, rssMiB: 40)
        let litert = result("litert", "xnnpack", fps: 100, initMs: 20, firstMs: 10, rssMiB: 80)
        let rows = BenchReport.ratios([magpie, litert])
        XCTAssertEqual(rows.count, 1)
        let row = try XCTUnwrap(rows.first)
        XCTAssertEqual(row.magpie, "magpie/optimized")
        XCTAssertEqual(row.peer, "litert/xnnpack")
        XCTAssertEqual([row.machine, row.model], ["box", "m"])
        XCTAssertEqual(row.threads, 1)
        XCTAssertEqual(row.fpsRatio, magpie.fps / litert.fps, accuracy: 1e-12, "above 1: Magpie is faster")
        XCTAssertEqual(row.magpieColdStartMs, magpie.initMs + magpie.firstInferenceMs, accuracy: 1e-12)
        XCTAssertEqual(row.peerColdStartMs, litert.initMs + litert.firstInferenceMs, accuracy: 1e-12)
        XCTAssertEqual(row.coldStartRatio, (litert.initMs + litert.firstInferenceMs) / (magpie.initMs + magpie.firstInferenceMs),
                       accuracy: 1e-12, "above 1: Magpie starts faster")
        XCTAssertEqual(row.magpiePeakRSSBytes, magpie.resources.peakRSSBytes)
        XCTAssertEqual(row.peerPeakRSSBytes, litert.resources.peakRSSBytes)
        XCTAssertEqual(row.peakRSSRatio, Double(litert.resources.peakRSSBytes) / Double(magpie.resources.peakRSSBytes),
                       accuracy: 1e-12, "above 1: Magpie needs less memory")
        XCTAssertEqual([row.magpieRounds, row.peerRounds], [1, 1])
        XCTAssertEqual(row.roundFpsRatios, [magpie.fps / litert.fps])
    }

    func testRepeatsUseTheMedianAndKeepPerRoundRatios() throws {
        let magpieFps = [100.0, 300, 200], peerFps = [150.0, 100, 120]
        let magpieInit = [12.0, 8, 10], peerInit = [30.0, 20, 25]
        let magpieRSS: [UInt64] = [40, 42, 41], peerRSS: [UInt64] = [90, 80, 85]
        // Rounds as `magpie bench --repeat 3` writes them: the runtime order rotates each round.
        var results: [BenchResult] = []
        for i in 0..<3 {
            let m = result("magpie", "optimized", fps: magpieFps[i], initMs: magpieInit[i], rssMiB: magpieRSS[i], round: i + 1)
            let p = result("litert", "xnnpack", fps: peerFps[i], initMs: peerInit[i], rssMiB: peerRSS[i], round: i + 1)
            results += i % 2 == 0 ? [m, p] : [p, m]
        }
        let row = try XCTUnwrap(BenchReport.ratios(results).first)
        XCTAssertEqual([row.magpieRounds, row.peerRounds], [3, 3])
        // The median of three values is the middle one once sorted.
        XCTAssertEqual(row.magpieFps, magpieFps.sorted()[1])
        XCTAssertEqual(row.peerFps, peerFps.sorted()[1])
        XCTAssertEqual(row.fpsRatio, magpieFps.sorted()[1] / peerFps.sorted()[1], accuracy: 1e-12)
        let firstMs = results[0].firstInferenceMs
        XCTAssertEqual(row.magpieColdStartMs, magpieInit.sorted()[1] + firstMs, accuracy: 1e-12)
        XCTAssertEqual(row.peerColdStartMs, peerInit.sorted()[1] + firstMs, accuracy: 1e-12)
        XCTAssertEqual(row.magpiePeakRSSBytes, magpieRSS.max()! << 20, "a peak: the largest round")
        XCTAssertEqual(row.peerPeakRSSBytes, peerRSS.max()! << 20)
        // Round i of Magpie is paired with round i of the peer, whatever order they ran in.
        let expectedFps = (0..<3).map { magpieFps[$0] / peerFps[$0] }
        let expectedCold = (0..<3).map { (peerInit[$0] + firstMs) / (magpieInit[$0] + firstMs) }
        for (got, want) in zip(row.roundFpsRatios, expectedFps) { XCTAssertEqual(got, want, accuracy: 1e-12) }
        for (got, want) in zip(row.roundColdStartRatios, expectedCold) { XCTAssertEqual(got, want, accuracy: 1e-12) }
        XCTAssertEqual(row.roundFpsRatios.count, 3)
        XCTAssertEqual(row.roundColdStartRatios.count, 3)

        let table = try XCTUnwrap(BenchReport.ratioTable([row]))
        let line = try XCTUnwrap(cells(of: table, magpie: "magpie/optimized", peer: "litert/xnnpack"))
        func f2(_ x: Double) -> String { String(format: "%.2f", x) }
        XCTAssertEqual(line[5], "3", "rounds")
        XCTAssertEqual(line[9], "\(f2(expectedFps.min()!))..\(f2(expectedFps.max()!))", "the per-round fps spread")
        XCTAssertEqual(line[13], "\(f2(expectedCold.min()!))..\(f2(expectedCold.max()!))", "the per-round cold-start spread")
    }

    func testRowsOnlyWhereBothSidesExist() {
        let results = [
            result("magpie", "optimized", model: "a", threads: 1, fps: 10),
            result("litert", "xnnpack", model: "a", threads: 1, fps: 20),
            result("magpie", "optimized", model: "a", threads: 2, fps: 30),   // no peer at 2 threads
            result("litert", "xnnpack", model: "b", threads: 1, fps: 40),     // no Magpie for model b
            result("litert", "xnnpack", model: "a", threads: 1, machine: "pi", fps: 50),  // no Magpie on the pi
        ]
        let rows = BenchReport.ratios(results)
        XCTAssertEqual(rows.count, 1)
        XCTAssertEqual(rows.first.map { [$0.machine, $0.model, "\($0.threads)"] }, ["box", "a", "1"])
        XCTAssertEqual(rows.first?.fpsRatio ?? 0, 10.0 / 20, accuracy: 1e-12, "the pi's LiteRT result is not mixed in")

        XCTAssertTrue(BenchReport.ratios([result("magpie", "optimized", fps: 1), result("magpie", "reference", fps: 2)]).isEmpty,
                      "two Magpie kernel sets are not a Magpie/peer pair")
        let onlyMagpie = BenchReport(document: BenchDocument(results: [result("magpie", "optimized", fps: 1)]))
        XCTAssertNil(onlyMagpie.ratioTable)
        XCTAssertFalse(onlyMagpie.text.contains("Magpie vs peers"), "no section without a pair")
        XCTAssertFalse(onlyMagpie.html.contains("Magpie vs peers"))
    }

    func testEveryKernelSetMeetsEveryPeer() {
        let magpies = [("optimized", 200.0), ("reference", 5.0)]
        let peers = [("litert", "xnnpack", 250.0), ("onnxruntime", "cpu", 180.0), ("litert", "builtin", 120.0)]
        let results = magpies.map { result("magpie", $0.0, fps: $0.1) } + peers.map { result($0.0, $0.1, fps: $0.2) }
        let rows = BenchReport.ratios(results)
        XCTAssertEqual(rows.count, magpies.count * peers.count)
        let expected = magpies.flatMap { m in peers.map { p in ("magpie/\(m.0)", "\(p.0)/\(p.1)", m.1 / p.2) } }
        XCTAssertEqual(rows.map(\.magpie), expected.map(\.0), "kernel sets in order of appearance, each labelled")
        XCTAssertEqual(rows.map(\.peer), expected.map(\.1), "peers in order of appearance")
        for (row, want) in zip(rows, expected) { XCTAssertEqual(row.fpsRatio, want.2, accuracy: 1e-12) }
    }

    func testUnequalRoundsAndZeroFps() throws {
        let results = [result("magpie", "optimized", fps: 100), result("litert", "xnnpack", fps: 0),
                       result("magpie", "optimized", fps: 300, round: 2)]
        let row = try XCTUnwrap(BenchReport.ratios(results).first)
        XCTAssertEqual([row.magpieRounds, row.peerRounds], [2, 1])
        XCTAssertEqual(row.magpieFps, (100.0 + 300) / 2, "the median of two rounds is their mean")
        XCTAssertEqual(row.roundFpsRatios.count, 1, "only complete pairs make per-round ratios")
        let line = try XCTUnwrap(cells(of: try XCTUnwrap(BenchReport.ratioTable([row])), magpie: "magpie/optimized",
                                       peer: "litert/xnnpack"))
        XCTAssertEqual(line[5], "2/1")
        XCTAssertEqual(line[8], "n/a", "a peer at 0 fps has no finite ratio")
        XCTAssertEqual(line[9], "-", "one pair has no spread")
    }

    func testReportsShowTheSectionWithTheRatios() throws {
        let results = [
            result("magpie", "optimized", threads: 1, fps: 200, initMs: 10, firstMs: 5, rssMiB: 40),
            result("litert", "xnnpack", threads: 1, fps: 160, initMs: 30, firstMs: 6, rssMiB: 70),
            result("magpie", "optimized", threads: 2, fps: 350, initMs: 11, firstMs: 4, rssMiB: 44),
            result("litert", "xnnpack", threads: 2, fps: 400, initMs: 28, firstMs: 5, rssMiB: 72),
        ]
        let report = BenchReport(document: BenchDocument(results: results))
        let text = report.text
        XCTAssertTrue(text.contains(BenchReport.ratioLegend))
        let table = try XCTUnwrap(report.ratioTable)
        XCTAssertTrue(text.contains(table), "the table is part of the terminal report")
        let lines = table.split(separator: "\n")
        XCTAssertEqual(lines.count, 4, "header, rule, one row per thread count")
        func f1(_ x: Double) -> String { String(format: "%.1f", x) }
        func f2(_ x: Double) -> String { String(format: "%.2f", x) }
        for (i, threads) in [1, 2].enumerated() {
            let m = results[2 * i], p = results[2 * i + 1]
            let row = lines[2 + i].split(separator: " ").map(String.init)
            let mCold = m.initMs + m.firstInferenceMs, pCold = p.initMs + p.firstInferenceMs
            let mRSS = Double(m.resources.peakRSSBytes) / 1_048_576, pRSS = Double(p.resources.peakRSSBytes) / 1_048_576
            XCTAssertEqual(row, ["box", "m", "\(threads)", "magpie/optimized", "litert/xnnpack", "1",
                                 f1(m.fps), f1(p.fps), f2(m.fps / p.fps), "-",
                                 f1(mCold), f1(pCold), f2(pCold / mCold), "-",
                                 f1(mRSS), f1(pRSS), f2(pRSS / mRSS)])
        }
        let html = report.html
        XCTAssertTrue(html.contains("<h2>Magpie vs peers</h2>"))
        XCTAssertTrue(html.contains(table.components(separatedBy: "\n")[2]), "the HTML page holds the same table")

        // `magpie report` renders merged files: rows pair results within each machine.
        let pi = BenchDocument(results: results.map { var r = $0; r.fingerprint = Fixtures.fingerprint("pi"); return r })
        let merged = BenchReport(document: BenchDocument.merged([BenchDocument(results: results), pi]))
        XCTAssertEqual(merged.ratioRows.map(\.machine), ["box", "box", "pi", "pi"])
        XCTAssertEqual(merged.ratioRows.map(\.magpieRounds), [1, 1, 1, 1])
    }
}
