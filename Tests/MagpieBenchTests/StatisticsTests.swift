import XCTest
import MagpieBench
import MagpieTestSupport

final class StatisticsTests: XCTestCase {
    func testPercentileInterpolatesBetweenClosestRanks() {
        let x = [1.0, 2, 3, 4]
        // h = (n - 1) p / 100: p50 -> 1.5 -> 2.5; p90 -> 2.7 -> 3 + 0.7; p25 -> 0.75 -> 1.75.
        XCTAssertEqual(Statistics.percentile(sorted: x, 0), 1)
        XCTAssertEqual(Statistics.percentile(sorted: x, 100), 4)
        XCTAssertEqual(Statistics.percentile(sorted: x, 50), 2.5, accuracy: 1e-12)
        XCTAssertEqual(Statistics.percentile(sorted: x, 90), 3.7, accuracy: 1e-12)
        XCTAssertEqual(Statistics.percentile(sorted: x, 25), 1.75, accuracy: 1e-12)
        XCTAssertEqual(Statistics.percentile(sorted: [7], 99), 7)
        // p99 of 1...100: h = 98.01 -> 99 + 0.01.
        XCTAssertEqual(Statistics.percentile(sorted: (1...100).map(Double.init), 99), 99.01, accuracy: 1e-9)
    }

    func testStandardDeviationAndCoefficientOfVariation() {
        // Sum of squared deviations from the mean 5 is 32; the sample variance is 32 / 7.
        let x = [2.0, 4, 4, 4, 5, 5, 7, 9]
        XCTAssertEqual(Statistics.standardDeviation(x), (32.0 / 7).squareRoot(), accuracy: 1e-12)
        XCTAssertEqual(Statistics.standardDeviation([3]), 0)
        let summary = LatencySummary(nanoseconds: x.map { UInt64($0 * 1e6) })
        XCTAssertEqual(summary.meanMs, 5, accuracy: 1e-9)
        XCTAssertEqual(summary.medianMs, 4.5, accuracy: 1e-9)
        XCTAssertEqual(summary.minMs, 2, accuracy: 1e-9)
        XCTAssertEqual(summary.maxMs, 9, accuracy: 1e-9)
        XCTAssertEqual(summary.coefficientOfVariation, (32.0 / 7).squareRoot() / 5, accuracy: 1e-9)
        XCTAssertEqual(summary.count, 8)
    }

    func testMannWhitneyUCountsPairsLikeTheDefinition() {
        var rng = SeededGenerator(seed: 3)
        // Integer-valued samples so that ties occur.
        let a = (0..<23).map { _ in Double(Int.random(in: 0..<10, using: &rng)) }
        let b = (0..<31).map { _ in Double(Int.random(in: 2..<12, using: &rng)) }
        var pairs = 0.0
        for x in a { for y in b { pairs += x > y ? 1 : (x == y ? 0.5 : 0) } }
        XCTAssertEqual(MannWhitney.uStatistic(a, b), pairs, accuracy: 1e-9)
        XCTAssertEqual(MannWhitney.uStatistic(a, b) + MannWhitney.uStatistic(b, a), Double(a.count * b.count), accuracy: 1e-9)
        XCTAssertEqual(MannWhitney.twoSidedPValue(a, b), MannWhitney.twoSidedPValue(b, a), accuracy: 1e-12)
    }

    func testMannWhitneyPValue() {
        // Complete separation of two samples of 10: U = 0, mean 50, variance 10*10*21/12; with continuity correction
        // z = 49.5 / sqrt(175) and p = erfc(z / sqrt 2) = 1.8267e-4 (computed separately).
        let p = MannWhitney.twoSidedPValue((1...10).map(Double.init), (11...20).map(Double.init))
        XCTAssertEqual(p, 1.8267e-4, accuracy: 1e-7)
        XCTAssertEqual(MannWhitney.twoSidedPValue([1, 2, 3], [1, 2, 3]), 1, accuracy: 1e-12)
        XCTAssertEqual(MannWhitney.twoSidedPValue([5, 5, 5], [5, 5]), 1, "all tied: no evidence")
    }

    /// Latencies around `base` ms with ±`noise` relative jitter, in nanoseconds.
    private func series(_ count: Int, base: Double, noise: Double, seed: UInt64, slope: Double = 0) -> [UInt64] {
        var rng = SeededGenerator(seed: seed)
        return (0..<count).map { i in
            let trend = 1 + slope * Double(i) / Double(count)
            return UInt64(base * trend * (1 + Double.random(in: -noise...noise, using: &rng)) * 1e6)
        }
    }

    func testStationarySeriesDoesNotDrift() {
        for seed in 1...5 as ClosedRange<UInt64> {
            let d = DriftAnalysis(nanoseconds: series(400, base: 5, noise: 0.1, seed: seed))
            XCTAssertTrue(d.tested)
            XCTAssertFalse(d.drifting, "seed \(seed): p \(d.pValue), change \(d.relativeChange)")
        }
    }

    func testStepChangeDrifts() {
        let samples = series(200, base: 5, noise: 0.1, seed: 7) + series(200, base: 6, noise: 0.1, seed: 8)
        let d = DriftAnalysis(nanoseconds: samples)
        XCTAssertTrue(d.drifting)
        XCTAssertEqual(d.relativeChange, 0.2, accuracy: 0.05)
        XCTAssertLessThan(d.pValue, 1e-6)
    }

    func testRampDriftsAndImprovementIsNegative() {
        XCTAssertTrue(DriftAnalysis(nanoseconds: series(400, base: 5, noise: 0.05, seed: 9, slope: 0.3)).drifting)
        let faster = DriftAnalysis(nanoseconds: series(400, base: 5, noise: 0.05, seed: 10, slope: -0.3))
        XCTAssertTrue(faster.drifting)
        XCTAssertLessThan(faster.relativeChange, 0)
    }

    func testOutliersAndSmallShiftsAreNotDrift() {
        var samples = series(400, base: 5, noise: 0.1, seed: 11)
        for i in [310, 330, 350, 370, 390] { samples[i] = 80_000_000 }
        XCTAssertFalse(DriftAnalysis(nanoseconds: samples).drifting, "five 80 ms outliers")
        // A 2% shift with 0.5% noise is statistically clear but below the 5% that matters.
        let small = series(200, base: 5, noise: 0.005, seed: 12) + series(200, base: 5.1, noise: 0.005, seed: 13)
        let d = DriftAnalysis(nanoseconds: small)
        XCTAssertLessThan(d.pValue, d.alpha)
        XCTAssertFalse(d.drifting)
    }

    func testTooFewSamplesAreNotTested() {
        let d = DriftAnalysis(nanoseconds: series(20, base: 1, noise: 0, seed: 1))
        XCTAssertFalse(d.tested)
        XCTAssertFalse(d.drifting)
    }

    func testThroughputWindows() {
        // 25 inferences of 0.1 s in 1 s windows: 10, 10, then a last half window of 5.
        let w = ThroughputWindow.windows(nanoseconds: Array(repeating: 100_000_000, count: 25), seconds: 1)
        XCTAssertEqual(w.map(\.inferences), [10, 10, 5])
        XCTAssertEqual(w[0].fps, 10, accuracy: 1e-9)
        XCTAssertEqual(w[2].startSeconds, 2, accuracy: 1e-9)
        XCTAssertEqual(w[2].endSeconds, 2.5, accuracy: 1e-9)
        XCTAssertEqual(w.reduce(0) { $0 + $1.inferences }, 25)
        // An inference longer than a window leaves an empty window behind it.
        let slow = ThroughputWindow.windows(nanoseconds: [500_000_000, 2_000_000_000], seconds: 1)
        XCTAssertEqual(slow.map(\.inferences), [1, 0, 1])
    }

    func testArgumentParsers() throws {
        XCTAssertEqual(try BenchArguments.seconds("5m"), 300)
        XCTAssertEqual(try BenchArguments.seconds("250ms"), 0.25, accuracy: 1e-12)
        XCTAssertEqual(try BenchArguments.seconds("1.5s"), 1.5)
        XCTAssertEqual(try BenchArguments.seconds("2"), 2)
        XCTAssertEqual(try BenchArguments.seconds("1h"), 3600)
        XCTAssertThrowsError(try BenchArguments.seconds("fast"))
        XCTAssertThrowsError(try BenchArguments.seconds("-1s"))
        XCTAssertEqual(try BenchArguments.threads(["1,2", "4"]), [1, 2, 4])
        XCTAssertThrowsError(try BenchArguments.threads(["0"]))
        XCTAssertEqual(BenchArguments.list(["magpie, litert", "onnxruntime"]), ["magpie", "litert", "onnxruntime"])
    }
}
