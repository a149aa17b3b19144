import Foundation

/// Descriptive statistics of latency samples.
///
/// Definitions (also in docs/benchmarking.md):
/// - **percentile p** (0...100): linear interpolation between the two closest ranks of the sorted samples
///   (Hyndman & Fan type 7, NumPy's default): position `h = (n - 1) * p / 100`, value
///   `x[floor(h)] + (h - floor(h)) * (x[floor(h) + 1] - x[floor(h)])`. The median is the 50th percentile.
/// - **standard deviation**: the sample standard deviation (divisor `n - 1`); 0 for a single sample.
/// - **coefficient of variation**: standard deviation / mean (a fraction, not a percentage).
public enum Statistics {
    /// The `p`-th percentile (0...100) of `sorted`, which must be sorted ascending and not empty.
    /// - Precondition: `sorted` is not empty and `p` is in 0...100.
    public static func percentile(sorted: [Double], _ p: Double) -> Double {
        precondition(!sorted.isEmpty, "percentile of no samples")
        precondition((0...100).contains(p), "percentile \(p) is outside 0...100")
        let h = Double(sorted.count - 1) * p / 100
        let lower = Int(h.rounded(.down))
        let upper = min(lower + 1, sorted.count - 1)
        return sorted[lower] + (h - Double(lower)) * (sorted[upper] - sorted[lower])
    }

    /// The arithmetic mean; 0 for no values.
    public static func mean(_ values: [Double]) -> Double {
        values.isEmpty ? 0 : values.reduce(0, +) / Double(values.count)
    }

    /// The sample standard deviation (divisor n - 1), computed with Welford's update; 0 for fewer than 2 values.
    public static func standardDeviation(_ values: [Double]) -> Double {
        guard values.count > 1 else { return 0 }
        var mean = 0.0, m2 = 0.0
        for (i, x) in values.enumerated() {
            let delta = x - mean
            mean += delta / Double(i + 1)
            m2 += delta * (x - mean)
        }
        return (m2 / Double(values.count - 1)).squareRoot()
    }

    /// The median of unsorted values.
    public static func median(_ values: [Double]) -> Double { percentile(sorted: values.sorted(), 50) }

    /// The interquartile range (75th minus 25th percentile) of sorted values.
    public static func interquartileRange(sorted: [Double]) -> Double {
        percentile(sorted: sorted, 75) - percentile(sorted: sorted, 25)
    }
}

/// Summary of a set of latency samples, in milliseconds.
public struct LatencySummary: Codable, Sendable, Equatable {
    public var count: Int
    public var meanMs: Double
    public var medianMs: Double
    public var p90Ms: Double
    public var p99Ms: Double
    public var minMs: Double
    public var maxMs: Double
    public var standardDeviationMs: Double
    /// Standard deviation / mean, as a fraction (0.05 = 5%).
    public var coefficientOfVariation: Double

    /// Summarises `samples` given in nanoseconds.
    /// - Precondition: `samples` is not empty.
    public init(nanoseconds samples: [UInt64]) {
        precondition(!samples.isEmpty, "no samples to summarise")
        let ms = samples.map { Double($0) / 1e6 }
        let sorted = ms.sorted()
        count = ms.count
        meanMs = Statistics.mean(ms)
        medianMs = Statistics.percentile(sorted: sorted, 50)
        p90Ms = Statistics.percentile(sorted: sorted, 90)
        p99Ms = Statistics.percentile(sorted: sorted, 99)
        minMs = sorted.first!
        maxMs = sorted.last!
        standardDeviationMs = Statistics.standardDeviation(ms)
        coefficientOfVariation = meanMs > 0 ? standardDeviationMs / meanMs : 0
    }
}

/// Whether latency changed between the start and the end of a run (thermal throttling, frequency scaling,
/// a noisy neighbour arriving, memory growth).
///
/// The rule (docs/benchmarking.md, "Drift"): split the samples into quarters and compare the first quarter
/// with the last. The run **drifts** when both
/// 1. a two-sided Mann-Whitney U test (normal approximation with tie correction) rejects "same distribution" at
///    `alpha` (default 0.001), and
/// 2. the medians differ by more than `minimumRelativeChange` (default 5%) of the first quarter's median.
/// The first condition says the change is beyond noise; the second that it is large enough to matter. A few
/// isolated outliers change neither the ranks much nor the medians, so they do not count as drift.
/// Fewer than 8 samples per quarter are not tested (`tested == false`).
public struct DriftAnalysis: Codable, Sendable, Equatable {
    public var firstQuarterMedianMs: Double
    public var lastQuarterMedianMs: Double
    /// (last - first) / first of the quarter medians; positive means the run got slower.
    public var relativeChange: Double
    /// Two-sided p-value of the Mann-Whitney U test between the two quarters.
    public var pValue: Double
    /// False when there were too few samples to test.
    public var tested: Bool
    /// True when both conditions of the rule hold.
    public var drifting: Bool
    public var alpha: Double
    public var minimumRelativeChange: Double

    /// Analyses `samples` (nanoseconds, in the order they were taken).
    public init(nanoseconds samples: [UInt64], alpha: Double = 0.001, minimumRelativeChange: Double = 0.05) {
        self.alpha = alpha
        self.minimumRelativeChange = minimumRelativeChange
        let quarter = samples.count / 4
        guard quarter >= 8 else {
            let all = samples.map { Double($0) / 1e6 }
            let m = all.isEmpty ? 0 : Statistics.median(all)
            firstQuarterMedianMs = m
            lastQuarterMedianMs = m
            relativeChange = 0
            pValue = 1
            tested = false
            drifting = false
            return
        }
        let first = samples.prefix(quarter).map { Double($0) / 1e6 }
        let last = samples.suffix(quarter).map { Double($0) / 1e6 }
        firstQuarterMedianMs = Statistics.median(first)
        lastQuarterMedianMs = Statistics.median(last)
        relativeChange = firstQuarterMedianMs > 0 ? (lastQuarterMedianMs - firstQuarterMedianMs) / firstQuarterMedianMs : 0
        pValue = MannWhitney.twoSidedPValue(first, last)
        tested = true
        drifting = pValue < alpha && abs(relativeChange) > minimumRelativeChange
    }
}

/// The Mann-Whitney U (Wilcoxon rank-sum) test.
public enum MannWhitney {
    /// The U statistic of `a` against `b`: the number of pairs (x in a, y in b) with x > y, ties counting one half.
    public static func uStatistic(_ a: [Double], _ b: [Double]) -> Double {
        let ranks = rankSums(a, b)
        let n1 = Double(a.count)
        return ranks.sumA - n1 * (n1 + 1) / 2
    }

    /// Two-sided p-value under the normal approximation with continuity and tie correction.
    /// Returns 1 when either sample is empty or every value is tied.
    public static func twoSidedPValue(_ a: [Double], _ b: [Double]) -> Double {
        guard !a.isEmpty, !b.isEmpty else { return 1 }
        let n1 = Double(a.count), n2 = Double(b.count), n = n1 + n2
        let ranks = rankSums(a, b)
        let u = ranks.sumA - n1 * (n1 + 1) / 2
        let meanU = n1 * n2 / 2
        let variance = n1 * n2 / 12 * ((n + 1) - ranks.tieTerm / (n * (n - 1)))
        guard variance > 0 else { return 1 }
        let z = max(0, abs(u - meanU) - 0.5) / variance.squareRoot()
        return min(1, erfc(z / 2.0.squareRoot()))
    }

    /// Sum of the ranks of `a` in the pooled sample (average ranks for ties) and Σ(t³ - t) over tie groups.
    private static func rankSums(_ a: [Double], _ b: [Double]) -> (sumA: Double, tieTerm: Double) {
        let pooled = a.map { ($0, true) } + b.map { ($0, false) }
        let sorted = pooled.sorted { $0.0 < $1.0 }
        var sumA = 0.0, tieTerm = 0.0
        var i = 0
        while i < sorted.count {
            var j = i
            while j + 1 < sorted.count && sorted[j + 1].0 == sorted[i].0 { j += 1 }
            let averageRank = Double(i + j) / 2 + 1
            let t = Double(j - i + 1)
            tieTerm += t * t * t - t
            for k in i...j where sorted[k].1 { sumA += averageRank }
            i = j + 1
        }
        return (sumA, tieTerm)
    }
}

/// Inferences per second in one time window of a sustained (`--duration`) run.
public struct ThroughputWindow: Codable, Sendable, Equatable {
    /// Window start and end, seconds since the timed loop began.
    public var startSeconds: Double
    public var endSeconds: Double
    public var inferences: Int
    public var fps: Double

    public init(startSeconds: Double, endSeconds: Double, inferences: Int) {
        self.startSeconds = startSeconds
        self.endSeconds = endSeconds
        self.inferences = inferences
        fps = endSeconds > startSeconds ? Double(inferences) / (endSeconds - startSeconds) : 0
    }

    /// Splits consecutive samples (nanoseconds, back to back) into windows of `seconds`; an inference belongs to
    /// the window in which it ended. The last window may be shorter. Windows with no inference completing in them
    /// (a single inference longer than the window) are kept with 0 inferences.
    public static func windows(nanoseconds samples: [UInt64], seconds: Double) -> [ThroughputWindow] {
        guard seconds > 0, !samples.isEmpty else { return [] }
        let width = UInt64(seconds * 1e9)
        var result: [ThroughputWindow] = []
        var elapsed: UInt64 = 0
        var windowStart: UInt64 = 0
        var count = 0
        for s in samples {
            elapsed += s
            while elapsed > windowStart + width {
                result.append(ThroughputWindow(startSeconds: Double(windowStart) / 1e9,
                                               endSeconds: Double(windowStart + width) / 1e9, inferences: count))
                windowStart += width
                count = 0
            }
            count += 1
        }
        if count > 0 || result.isEmpty {
            result.append(ThroughputWindow(startSeconds: Double(windowStart) / 1e9, endSeconds: Double(elapsed) / 1e9,
                                           inferences: count))
        }
        return result
    }
}
