import Foundation

/// One row of the "Magpie vs peers" section: one Magpie kernel set against one peer runtime, for one machine, model
/// and thread count.
///
/// The performance goal is stated as ratios ("Magpie at least as fast as LiteRT, cold start no slower, peak RSS no
/// higher"), so the report computes them instead of leaving the reader to divide table cells. Every ratio is oriented
/// the same way, **above 1 means Magpie is better**, so a row can be read without remembering which way each column
/// points:
/// - `fpsRatio` = Magpie fps / peer fps,
/// - `coldStartRatio` = peer cold start / Magpie cold start,
/// - `peakRSSRatio` = peer peak RSS / Magpie peak RSS.
public struct RatioRow: Sendable, Equatable {
    /// The machine's fingerprint name: ratios are only taken between results of the same machine.
    public var machine: String
    public var model: String
    public var threads: Int
    /// The Magpie side's runtime label (`magpie/optimized`, `magpie/reference`): each kernel set is compared on its own.
    public var magpie: String
    /// The peer's runtime label (`litert/xnnpack`, `onnxruntime/cpu`).
    public var peer: String
    /// How many results each side has (rounds of `--repeat`, plus any merged from other files).
    public var magpieRounds: Int
    public var peerRounds: Int
    /// Median fps over each side's rounds.
    public var magpieFps: Double
    public var peerFps: Double
    /// Median cold start (init + first inference, ms) over each side's rounds.
    public var magpieColdStartMs: Double
    public var peerColdStartMs: Double
    /// Largest peak RSS over each side's rounds, bytes (a peak is a maximum, so the rounds' maximum is kept).
    public var magpiePeakRSSBytes: UInt64
    public var peerPeakRSSBytes: UInt64
    /// Per-round ratios, round i of Magpie against round i of the peer (results paired in order of appearance; with
    /// unequal round counts the extra results take part in the medians only). They show how noisy the medians are.
    public var roundFpsRatios: [Double]
    public var roundColdStartRatios: [Double]

    /// Magpie fps / peer fps, of the medians: above 1, Magpie is faster.
    public var fpsRatio: Double { magpieFps / peerFps }
    /// Peer cold start / Magpie cold start, of the medians: above 1, Magpie starts faster.
    public var coldStartRatio: Double { peerColdStartMs / magpieColdStartMs }
    /// Peer peak RSS / Magpie peak RSS: above 1, Magpie needs less memory.
    public var peakRSSRatio: Double { Double(peerPeakRSSBytes) / Double(magpiePeakRSSBytes) }
}

extension BenchResult {
    /// What an application waits for before its first answer: load + prepare, then the first inference, ms.
    public var coldStartMs: Double { initMs + firstInferenceMs }
}

extension BenchReport {
    /// The runtime name of Magpie's own results; every other runtime name is a peer.
    public static let magpieRuntimeName = "magpie"

    /// Pairs every Magpie kernel set with every peer on each (machine, model, threads) where both have results.
    ///
    /// A pure function of the results, so it serves `magpie bench` and `magpie report` (merged files) alike and is
    /// tested without running anything. Rows come in order of first appearance: configuration (machine, model,
    /// threads), then Magpie kernel set, then peer. Results with the same runtime label in one configuration are
    /// rounds of one measurement (`--repeat`, or the same configuration in several merged files).
    public static func ratios(_ results: [BenchResult]) -> [RatioRow] {
        struct Configuration: Hashable { var machine: String; var model: String; var threads: Int }
        var configurations: [Configuration] = []
        // Per configuration, each runtime label's results in order; labels kept in order of appearance.
        var rounds: [Configuration: [(label: String, isMagpie: Bool, results: [BenchResult])]] = [:]
        for r in results {
            let c = Configuration(machine: r.fingerprint.name, model: r.model.name, threads: r.threads)
            if rounds[c] == nil { configurations.append(c) }
            let label = r.runtime.label
            if let i = rounds[c, default: []].firstIndex(where: { $0.label == label }) {
                rounds[c]![i].results.append(r)
            } else {
                rounds[c, default: []].append((label, r.runtime.name == magpieRuntimeName, [r]))
            }
        }
        var rows: [RatioRow] = []
        for c in configurations {
            let sides = rounds[c] ?? []
            for m in sides where m.isMagpie {
                for p in sides where !p.isMagpie {
                    let pairs = zip(m.results, p.results)
                    rows.append(RatioRow(
                        machine: c.machine, model: c.model, threads: c.threads, magpie: m.label, peer: p.label,
                        magpieRounds: m.results.count, peerRounds: p.results.count,
                        magpieFps: Statistics.median(m.results.map(\.fps)),
                        peerFps: Statistics.median(p.results.map(\.fps)),
                        magpieColdStartMs: Statistics.median(m.results.map(\.coldStartMs)),
                        peerColdStartMs: Statistics.median(p.results.map(\.coldStartMs)),
                        magpiePeakRSSBytes: m.results.map(\.resources.peakRSSBytes).max() ?? 0,
                        peerPeakRSSBytes: p.results.map(\.resources.peakRSSBytes).max() ?? 0,
                        roundFpsRatios: pairs.map { $0.fps / $1.fps },
                        roundColdStartRatios: pairs.map { $1.coldStartMs / $0.coldStartMs }))
                }
            }
        }
        return rows
    }

    /// This document's ratio rows.
    public var ratioRows: [RatioRow] { Self.ratios(document.results) }

    /// How to read the ratio table, a few lines printed above it wherever it appears: the direction of every ratio and
    /// how rounds are aggregated are not guessable from column names.
    public static let ratioLegend = """
        Magpie vs peers: every "x" column is above 1 when Magpie is better.
          fps x = Magpie fps / peer fps; cold x = peer cold start / Magpie's (cold = init + first inference, ms);
          RSS x = peer peak RSS / Magpie's. fps and cold are medians over the rounds (--repeat); min..max spans the
          per-round ratios. RSS is the largest over the rounds; Magpie's is the benchmark process's peak so far.
        """

    /// The ratio rows as a terminal table, or nil when no configuration has both a Magpie and a peer result.
    public static func ratioTable(_ rows: [RatioRow]) -> String? {
        guard !rows.isEmpty else { return nil }
        func ratio(_ x: Double) -> String { x.isFinite ? fmt(x, 2) : "n/a" }
        // One round has no spread to show; a dash says so rather than repeating the ratio.
        func range(_ xs: [Double]) -> String {
            guard xs.count > 1, let lo = xs.min(), let hi = xs.max() else { return "-" }
            return "\(ratio(lo))..\(ratio(hi))"
        }
        func mib(_ bytes: UInt64) -> String { fmt(Double(bytes) / 1_048_576, 1) }
        var table = [["machine", "model", "thr", "magpie", "peer", "rounds",
                      "fps", "peer fps", "fps x", "min..max",
                      "cold ms", "peer cold", "cold x", "min..max",
                      "RSS MiB", "peer RSS", "RSS x"]]
        for r in rows {
            table.append([
                r.machine, r.model, "\(r.threads)", r.magpie, r.peer,
                r.magpieRounds == r.peerRounds ? "\(r.magpieRounds)" : "\(r.magpieRounds)/\(r.peerRounds)",
                fmt(r.magpieFps, 1), fmt(r.peerFps, 1), ratio(r.fpsRatio), range(r.roundFpsRatios),
                fmt(r.magpieColdStartMs, 1), fmt(r.peerColdStartMs, 1), ratio(r.coldStartRatio), range(r.roundColdStartRatios),
                mib(r.magpiePeakRSSBytes), mib(r.peerPeakRSSBytes), ratio(r.peakRSSRatio),
            ])
        }
        return TextTable.render(table, rightAligned: Set(2...16).subtracting([3, 4]))
    }

    /// This document's ratio table (nil without a Magpie/peer pair).
    public var ratioTable: String? { Self.ratioTable(ratioRows) }
}
