import Foundation

/// Tables and charts of a `BenchDocument` (one file or several merged).
public struct BenchReport {
    public let document: BenchDocument

    public init(document: BenchDocument) { self.document = document }

    /// The label of a result in charts: `machine · runtime · model · tN` (the runtime is also the colour).
    /// The machine is left out when every result comes from one machine.
    public func rowLabel(_ r: BenchResult) -> String {
        var parts: [String] = []
        if machines.count > 1 { parts.append(r.fingerprint.name) }
        parts.append(r.runtime.label)
        parts.append(r.model.name)
        parts.append("t\(r.threads)")
        // Repeated rounds (`.../r2`) and renamed clashes (`...#2`) keep their suffix so rows stay distinguishable.
        let last = r.id.split(separator: "/").last.map(String.init) ?? ""
        if last.contains("#") || (last.hasPrefix("r") && Int(last.dropFirst()) != nil) {
            parts.append(last.hasPrefix("t") ? String(last.drop { $0 != "#" }) : last)
        }
        return parts.joined(separator: " · ")
    }

    /// Machine names in order of appearance.
    public var machines: [String] { BenchCharts.uniqued(document.results.map(\.fingerprint.name)) }

    // MARK: terminal

    /// The main table: one row per result.
    public var resultsTable: String {
        var rows = [["machine", "runtime", "model", "thr", "fps", "mean ms", "median", "p90", "p99", "min", "max", "cv %",
                     "init ms", "first ms", "GMAC/s", "cpu %", "RSS MiB", "J/inf", "fps/W", "drift"]]
        for r in document.results {
            let l = r.latency
            rows.append([
                r.fingerprint.name, r.runtime.label, r.model.name, "\(r.threads)", fmt(r.fps, 1),
                fmt(l.meanMs, 3), fmt(l.medianMs, 3), fmt(l.p90Ms, 3), fmt(l.p99Ms, 3), fmt(l.minMs, 3), fmt(l.maxMs, 3),
                fmt(l.coefficientOfVariation * 100, 1), fmt(r.initMs, 1), fmt(r.firstInferenceMs, 2),
                r.gmacPerSecond.map { fmt($0, 2) } ?? "n/a", fmt(r.resources.cpuUtilization * 100, 0),
                fmt(Double(r.resources.peakRSSBytes) / 1_048_576, 1),
                r.energy.map { String(format: "%.4g", $0.joulesPerInference) + ($0.source == .declared ? "*" : "") } ?? "n/a",
                r.energy.map { fmt($0.fpsPerWatt, 2) + ($0.source == .declared ? "*" : "") } ?? "n/a",
                r.drift.tested ? (r.drift.drifting ? String(format: "YES %+.0f%%", r.drift.relativeChange * 100) : "no") : "n/a",
            ])
        }
        var text = TextTable.render(rows, rightAligned: Set(3...19))
        if document.results.contains(where: { $0.energy?.source == .declared }) {
            text += "* energy from a declared power (--watts), not measured\n"
        }
        return text
    }

    /// fps side by side: one row per (runtime, model, threads), one column per machine. Nil with one machine.
    public var machineComparisonTable: String? {
        let names = machines
        guard names.count > 1 else { return nil }
        var keys: [String] = []
        var fps: [String: [String: Double]] = [:]
        for r in document.results {
            let key = "\(r.runtime.label)|\(r.model.name)|\(r.threads)"
            if fps[key] == nil { keys.append(key) }
            fps[key, default: [:]][r.fingerprint.name] = r.fps
        }
        var rows = [["runtime", "model", "thr"] + names.map { "\($0) fps" }]
        for key in keys {
            let parts = key.split(separator: "|").map(String.init)
            rows.append(parts + names.map { fps[key]?[$0].map { fmt($0, 1) } ?? "-" })
        }
        return TextTable.render(rows, rightAligned: Set(2..<(3 + names.count)))
    }

    /// Top-5 of each result (once per runtime, model and machine).
    public var topTable: String {
        var rows = [["result", "top-5 (index label score)"]]
        var seen = Set<String>()
        for r in document.results where seen.insert("\(r.fingerprint.name)|\(r.runtime.label)|\(r.model.name)").inserted {
            rows.append([r.id, r.top.map { "\($0.index) \($0.label ?? "") \(String(format: "%.3f", $0.score))" }.joined(separator: "; ")])
        }
        return TextTable.render(rows)
    }

    /// Output agreement between results.
    public var agreementTable: String? {
        guard !document.agreements.isEmpty else { return nil }
        var rows = [["a", "b", "top-1", "top-5 overlap", "max |diff|"]]
        for a in document.agreements {
            rows.append([a.a, a.b, a.top1Agrees ? "agree (\(a.topA))" : "DIFFER (\(a.topA) vs \(a.topB))",
                         "\(a.top5Overlap)/5", String(format: "%.3g", a.maxAbsDifference)])
        }
        return TextTable.render(rows, rightAligned: [3, 4])
    }

    /// Machines, one line each.
    public var machineLines: String {
        var seen = Set<String>()
        return document.results.map(\.fingerprint).filter { seen.insert($0.name + ($0.gitCommit ?? "")).inserted }
            .map { $0.summary }.joined(separator: "\n")
    }

    /// Everything for a terminal.
    public var text: String {
        var out = ["machines:", machineLines, "", resultsTable]
        if let t = machineComparisonTable { out += ["fps by machine:", t] }
        if let t = ratioTable { out += [Self.ratioLegend, t] }
        out += ["top classes:", topTable]
        if let t = agreementTable { out += ["output agreement (dequantized units):", t] }
        let notes = BenchCharts.uniqued(document.results.compactMap(\.energyNote))
        if !notes.isEmpty { out += ["energy: " + notes.joined(separator: "; ")] }
        if !document.warnings.isEmpty { out += ["warnings:"] + document.warnings.map { "  - " + $0 } }
        return out.joined(separator: "\n")
    }

    // MARK: charts

    /// The charts, by file name.
    public var charts: [(name: String, svg: String)] {
        let results = document.results
        let bars = results.map { BenchCharts.Bar(label: rowLabel($0), series: $0.runtime.label, value: $0.fps) }
        var out: [(String, String)] = [
            ("fps-linear.svg", BenchCharts.barChart(title: "Throughput (higher is better)",
                                                    axisTitle: "inferences per second (fps), linear scale",
                                                    bars: bars, scale: .linear)),
            ("fps-log.svg", BenchCharts.barChart(title: "Throughput, log scale (higher is better)",
                                                 axisTitle: "inferences per second (fps), log scale",
                                                 bars: bars, scale: .logarithmic)),
        ]
        let withEnergy = results.filter { $0.energy != nil }
        let energyBars = withEnergy.map { r in
            BenchCharts.Bar(label: rowLabel(r) + (r.energy!.source == .declared ? " (declared W)" : ""),
                            series: r.runtime.label, value: r.energy!.fpsPerWatt)
        }
        out.append(("fps-per-watt.svg", BenchCharts.barChart(
            title: "Efficiency (higher is better)", axisTitle: "inferences per second per watt (fps/W = inferences per joule)",
            bars: energyBars, scale: .linear, valueFormat: { String(format: "%.2f", $0) },
            note: "No energy figures: none of these results had RAPL, INA power rails or a declared power (--watts W).")))
        out.append(("latency.svg", BenchCharts.boxPlot(
            title: "Latency per inference (lower is better): box p25-p75, line median, whiskers p1-p99, dot mean",
            axisTitle: "milliseconds per inference",
            boxes: results.map { BenchCharts.Box(label: rowLabel($0), series: $0.runtime.label, nanoseconds: $0.samplesNs) })))
        let sustained = results.filter { ($0.windows?.count ?? 0) > 1 }
        if !sustained.isEmpty {
            out.append(("fps-over-time.svg", BenchCharts.lineChart(
                title: "Sustained throughput", xTitle: "seconds since the timed loop began", yTitle: "fps",
                lines: sustained.map { r in
                    BenchCharts.Line(label: rowLabel(r),
                                     points: r.windows!.map { ((($0.startSeconds + $0.endSeconds) / 2), $0.fps) })
                })))
        }
        return out
    }

    /// Writes every chart into `directory` (created when missing) and returns the paths.
    public func writeCharts(to directory: String) throws -> [String] {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return try charts.map { name, svg in
            let path = URL(fileURLWithPath: directory).appendingPathComponent(name).path
            try Data(svg.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
            return path
        }
    }

    /// One self-contained HTML page: machines, tables, warnings and the charts inline.
    public var html: String {
        func pre(_ s: String) -> String { "<pre>" + SVGCanvas.escape(s) + "</pre>" }
        var body = ["<h1>Magpie benchmark report</h1>",
                    "<p>\(document.results.count) results, schema \(SVGCanvas.escape(document.schema)), created \(SVGCanvas.escape(document.created)).</p>",
                    "<h2>Machines</h2>", pre(machineLines),
                    "<h2>Results</h2>", pre(resultsTable)]
        if let t = machineComparisonTable { body += ["<h2>fps by machine</h2>", pre(t)] }
        if let t = ratioTable { body += ["<h2>Magpie vs peers</h2>", "<p>" + SVGCanvas.escape(Self.ratioLegend).replacingOccurrences(of: "\n", with: "<br>") + "</p>", pre(t)] }
        body += ["<h2>Top classes</h2>", pre(topTable)]
        if let t = agreementTable { body += ["<h2>Output agreement</h2>", pre(t)] }
        if !document.warnings.isEmpty {
            body.append("<h2>Warnings</h2><ul>" + document.warnings.map { "<li>\(SVGCanvas.escape($0))</li>" }.joined() + "</ul>")
        }
        body.append("<h2>Charts</h2>")
        for (_, svg) in charts { body.append("<div class=\"chart\">\(svg)</div>") }
        for r in document.results {
            if let p = r.profile { body += ["<h2>Profile: \(SVGCanvas.escape(r.id))</h2>", pre(p.table())] }
        }
        return """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>Magpie benchmark report</title>
        <style>body{font-family:Helvetica,Arial,sans-serif;margin:2em;max-width:1100px}pre{font-size:12px;overflow-x:auto;background:#f6f6f6;padding:.6em}.chart{margin:1em 0}</style>
        </head><body>
        \(body.joined(separator: "\n"))
        </body></html>

        """
    }
}
