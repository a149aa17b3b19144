import Foundation

/// Time per operator and per operator type over profiled inferences (`--profile`).
///
/// Each operator's time is the **median** over the profiled runs (robust to a preempted run); percentages are of the
/// sum of those medians, so the operator rows add up to 100%.
public struct OperatorProfile: Codable, Sendable, Equatable {
    public struct Operator: Codable, Sendable, Equatable {
        public var index: Int
        public var type: String
        public var medianMs: Double
        public var percent: Double
    }
    public struct OperatorType: Codable, Sendable, Equatable {
        public var type: String
        public var count: Int
        /// Sum over this type's operators of their median times.
        public var totalMs: Double
        public var percent: Double
    }

    public var runs: Int
    /// Sum of the per-operator medians.
    public var totalMs: Double
    public var operators: [Operator]
    /// Types by time, most expensive first.
    public var types: [OperatorType]

    /// Aggregates profiled runs; every run must list the same operators in the same order.
    public init(runs: [[OperatorSample]]) {
        self.runs = runs.count
        let count = runs.map(\.count).min() ?? 0
        var ops: [Operator] = []
        for i in 0..<count {
            let ms = runs.map { Double($0[i].nanoseconds) / 1e6 }
            ops.append(Operator(index: runs[0][i].index, type: runs[0][i].type, medianMs: Statistics.median(ms), percent: 0))
        }
        let total = ops.reduce(0) { $0 + $1.medianMs }
        for i in ops.indices { ops[i].percent = total > 0 ? ops[i].medianMs / total * 100 : 0 }
        var byType: [String: OperatorType] = [:]
        for op in ops {
            byType[op.type, default: OperatorType(type: op.type, count: 0, totalMs: 0, percent: 0)].count += 1
            byType[op.type]!.totalMs += op.medianMs
            byType[op.type]!.percent += op.percent
        }
        totalMs = total
        operators = ops
        types = byType.values.sorted { ($0.totalMs, $1.type) > ($1.totalMs, $0.type) }
    }

    /// `index,type,median_ms,percent` rows (operators), then `type,count,total_ms,percent` rows under a blank line.
    public var csv: String {
        var lines = ["index,type,median_ms,percent"]
        lines += operators.map { "\($0.index),\($0.type),\(fmt($0.medianMs, 6)),\(fmt($0.percent, 3))" }
        lines.append("")
        lines.append("type,count,total_ms,percent")
        lines += types.map { "\($0.type),\($0.count),\(fmt($0.totalMs, 6)),\(fmt($0.percent, 3))" }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A terminal table: types first, then the `limit` most expensive operators.
    public func table(limit: Int = 15) -> String {
        var rows = [["op type", "count", "ms", "%"]]
        rows += types.map { [$0.type, "\($0.count)", fmt($0.totalMs, 3), fmt($0.percent, 1)] }
        rows.append(["total", "\(operators.count)", fmt(totalMs, 3), "100.0"])
        var text = TextTable.render(rows, rightAligned: [1, 2, 3])
        let top = operators.sorted { $0.medianMs > $1.medianMs }.prefix(limit)
        var opRows = [["#", "op", "ms", "%"]]
        opRows += top.map { ["\($0.index)", $0.type, fmt($0.medianMs, 3), fmt($0.percent, 1)] }
        text += "\nslowest operators (median of \(runs) profiled runs):\n" + TextTable.render(opRows, rightAligned: [0, 2, 3])
        return text
    }
}

/// Fixed-point formatting without locale surprises.
func fmt(_ x: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", x) }

/// Plain-text tables for terminals.
public enum TextTable {
    /// Renders rows (the first is the header) with columns padded to their widest cell.
    public static func render(_ rows: [[String]], rightAligned: Set<Int> = []) -> String {
        guard let header = rows.first else { return "" }
        var widths = [Int](repeating: 0, count: header.count)
        for row in rows { for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) } }
        func line(_ row: [String]) -> String {
            row.enumerated().map { i, cell in
                let pad = String(repeating: " ", count: max(0, (i < widths.count ? widths[i] : 0) - cell.count))
                return rightAligned.contains(i) ? pad + cell : cell + pad
            }.joined(separator: "  ").trimmingTrailingSpaces
        }
        var out = [line(header), widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")]
        out += rows.dropFirst().map(line)
        return out.joined(separator: "\n") + "\n"
    }
}

extension String {
    /// The string without trailing spaces.
    var trimmingTrailingSpaces: String {
        var s = Substring(self)
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}
