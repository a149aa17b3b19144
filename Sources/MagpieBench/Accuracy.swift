import Foundation

/// One class of a classifier's output, by score.
public struct RankedClass: Codable, Sendable, Equatable {
    public var index: Int
    public var label: String?
    public var score: Float

    public init(index: Int, label: String?, score: Float) {
        self.index = index
        self.label = label
        self.score = score
    }

    /// The `k` highest scores, highest first; equal scores keep the lower index first (as NumPy's stable argsort
    /// on the negated scores does, and as the field report's `argmax` does for top-1). NaN scores are never picked.
    public static func top(_ scores: [Float], k: Int, labels: [String]?) -> [RankedClass] {
        let order = scores.indices.filter { !scores[$0].isNaN }.sorted { a, b in
            scores[a] != scores[b] ? scores[a] > scores[b] : a < b
        }
        return order.prefix(max(0, k)).map { i in
            RankedClass(index: i, label: labels.flatMap { i < $0.count ? $0[i] : nil }, score: scores[i])
        }
    }
}

/// How far two results' outputs agree.
public struct Agreement: Codable, Sendable, Equatable {
    /// Result ids.
    public var a: String
    public var b: String
    public var topA: Int
    public var topB: Int
    public var top1Agrees: Bool
    /// How many of a's top-5 classes are in b's top-5.
    public var top5Overlap: Int
    /// max |a_i - b_i| over the dequantized outputs (probabilities for a softmax classifier).
    public var maxAbsDifference: Float

    /// Compares two dequantized outputs of the same length.
    /// - Returns: nil when the lengths differ (different models' outputs cannot be compared) or an output is empty.
    public init?(a: String, _ x: [Float], b: String, _ y: [Float]) {
        guard x.count == y.count, !x.isEmpty else { return nil }
        let topX = RankedClass.top(x, k: 5, labels: nil).map(\.index)
        let topY = RankedClass.top(y, k: 5, labels: nil).map(\.index)
        self.a = a
        self.b = b
        topA = topX.first ?? -1
        topB = topY.first ?? -1
        top1Agrees = topA == topB
        top5Overlap = Set(topX).intersection(topY).count
        var worst: Float = 0
        for i in x.indices {
            let d = abs(x[i] - y[i])
            if d > worst || d.isNaN { worst = d }
        }
        maxAbsDifference = worst
    }

    /// Agreements between results on the same input. Each (runtime, model, kernels) configuration is compared once,
    /// using its first result (other thread counts of the same configuration are not compared again); pairs
    /// whose outputs have different lengths are skipped.
    public static func pairs(in results: [BenchResult]) -> [Agreement] {
        var representatives: [BenchResult] = []
        var seen = Set<String>()
        for r in results {
            let key = "\(r.runtime.label)|\(r.model.name)|\(r.model.path ?? "")|\(r.input)|\(r.fingerprint.hostname)"
            if seen.insert(key).inserted { representatives.append(r) }
        }
        var out: [Agreement] = []
        for i in representatives.indices {
            for j in representatives.indices where j > i && representatives[i].input == representatives[j].input {
                let x = representatives[i], y = representatives[j]
                if let a = Agreement(a: x.id, x.output, b: y.id, y.output) { out.append(a) }
            }
        }
        return out
    }
}
