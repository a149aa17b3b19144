import Foundation

/// A minimal SVG writer: elements appended as text, with every attribute and text node escaped.
public struct SVGCanvas {
    public let width: Double
    public let height: Double
    private var body: [String] = []

    public init(width: Double, height: Double) {
        self.width = width
        self.height = height
    }

    /// Escapes `&`, `<`, `>`, `"` and `'` for XML text and attributes.
    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.count)
        for c in text {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default: out.append(c)
            }
        }
        return out
    }

    private static func attributes(_ attrs: KeyValuePairs<String, String>) -> String {
        attrs.map { " \($0.key)=\"\(escape($0.value))\"" }.joined()
    }

    static func n(_ x: Double) -> String { String(format: "%.2f", x) }

    public mutating func rect(x: Double, y: Double, width: Double, height: Double, fill: String,
                              attrs: KeyValuePairs<String, String> = [:]) {
        body.append("<rect x=\"\(Self.n(x))\" y=\"\(Self.n(y))\" width=\"\(Self.n(max(0, width)))\" height=\"\(Self.n(max(0, height)))\" fill=\"\(Self.escape(fill))\"\(Self.attributes(attrs))/>")
    }

    public mutating func line(x1: Double, y1: Double, x2: Double, y2: Double, stroke: String, width: Double = 1,
                              attrs: KeyValuePairs<String, String> = [:]) {
        body.append("<line x1=\"\(Self.n(x1))\" y1=\"\(Self.n(y1))\" x2=\"\(Self.n(x2))\" y2=\"\(Self.n(y2))\" stroke=\"\(Self.escape(stroke))\" stroke-width=\"\(Self.n(width))\"\(Self.attributes(attrs))/>")
    }

    public mutating func text(_ content: String, x: Double, y: Double, size: Double = 12, anchor: String = "start",
                              weight: String = "normal", fill: String = "#222", attrs: KeyValuePairs<String, String> = [:]) {
        body.append("<text x=\"\(Self.n(x))\" y=\"\(Self.n(y))\" font-size=\"\(Self.n(size))\" text-anchor=\"\(anchor)\" font-weight=\"\(weight)\" fill=\"\(fill)\"\(Self.attributes(attrs))>\(Self.escape(content))</text>")
    }

    public mutating func polyline(_ points: [(Double, Double)], stroke: String, width: Double = 1.5,
                                  attrs: KeyValuePairs<String, String> = [:]) {
        let p = points.map { "\(Self.n($0.0)),\(Self.n($0.1))" }.joined(separator: " ")
        body.append("<polyline points=\"\(p)\" fill=\"none\" stroke=\"\(Self.escape(stroke))\" stroke-width=\"\(Self.n(width))\"\(Self.attributes(attrs))/>")
    }

    public mutating func circle(cx: Double, cy: Double, r: Double, fill: String, attrs: KeyValuePairs<String, String> = [:]) {
        body.append("<circle cx=\"\(Self.n(cx))\" cy=\"\(Self.n(cy))\" r=\"\(Self.n(r))\" fill=\"\(Self.escape(fill))\"\(Self.attributes(attrs))/>")
    }

    /// The finished document.
    public var svg: String {
        """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Self.n(width))" height="\(Self.n(height))" viewBox="0 0 \(Self.n(width)) \(Self.n(height))" font-family="Helvetica, Arial, sans-serif">
        <rect x="0" y="0" width="\(Self.n(width))" height="\(Self.n(height))" fill="#ffffff"/>
        \(body.joined(separator: "\n"))
        </svg>

        """
    }
}

/// Maps values to pixels on a linear or logarithmic axis and picks readable ticks.
public struct AxisScale: Sendable, Equatable {
    public enum Kind: String, Sendable { case linear, logarithmic }
    public var kind: Kind
    public var lower: Double
    public var upper: Double
    public var pixelStart: Double
    public var pixelEnd: Double

    /// A scale covering `values`: linear from 0 to a round number above the maximum; logarithmic from the power of
    /// ten at or below the minimum to the one at or above the maximum. Non-positive values are ignored on a log scale.
    public init(kind: Kind, covering values: [Double], pixels: ClosedRange<Double>) {
        self.kind = kind
        pixelStart = pixels.lowerBound
        pixelEnd = pixels.upperBound
        let finite = values.filter { $0.isFinite }
        switch kind {
        case .linear:
            let maximum = max(finite.max() ?? 1, 0)
            let step = Self.niceStep(maximum > 0 ? maximum / 5 : 0.2)
            lower = 0
            upper = max(step, (maximum / step).rounded(.up) * step)
        case .logarithmic:
            let positive = finite.filter { $0 > 0 }
            let lo = positive.min() ?? 1, hi = positive.max() ?? 10
            lower = pow(10, log10(lo).rounded(.down))
            upper = pow(10, log10(hi).rounded(.up))
            if upper <= lower { upper = lower * 10 }
        }
    }

    /// 1, 2 or 5 times a power of ten, at least `raw`.
    static func niceStep(_ raw: Double) -> Double {
        let magnitude = pow(10, log10(raw).rounded(.down))
        for m in [1.0, 2, 5, 10] where m * magnitude >= raw * 0.999 { return m * magnitude }
        return 10 * magnitude
    }

    /// The pixel position of `value` (clamped to the axis).
    public func position(_ value: Double) -> Double {
        let f: Double
        switch kind {
        case .linear: f = (value - lower) / (upper - lower)
        case .logarithmic: f = value > 0 ? (log10(value) - log10(lower)) / (log10(upper) - log10(lower)) : 0
        }
        return pixelStart + min(1, max(0, f)) * (pixelEnd - pixelStart)
    }

    /// Tick values: multiples of a 1-2-5 step (linear), or powers of ten with 2 and 5 between them when there are
    /// few decades (logarithmic).
    public var ticks: [Double] {
        switch kind {
        case .linear:
            let step = Self.niceStep((upper - lower) / 5)
            return stride(from: lower, through: upper + step * 0.001, by: step).map { $0 }
        case .logarithmic:
            let decades = Int((log10(upper) - log10(lower)).rounded())
            var out: [Double] = []
            for d in 0...decades {
                let base = lower * pow(10, Double(d))
                out.append(base)
                if decades <= 3 && d < decades { out += [2 * base, 5 * base] }
            }
            return out
        }
    }

    /// A compact label: 1500 → "1500", 0.25 → "0.25", 2e6 → "2M".
    public static func label(_ v: Double) -> String {
        if v >= 1e6 { return trimmed(v / 1e6) + "M" }
        if v >= 1e4 { return trimmed(v / 1e3) + "k" }
        return trimmed(v)
    }

    static func trimmed(_ v: Double) -> String {
        if v == v.rounded() { return String(Int(v)) }
        var s = String(format: "%.3f", v)
        while s.hasSuffix("0") { s.removeLast() }
        if s.hasSuffix(".") { s.removeLast() }
        return s
    }
}

/// The charts of a benchmark report, drawn as standalone SVG documents.
public enum BenchCharts {
    /// A bar in a horizontal bar chart.
    public struct Bar: Sendable {
        public var label: String
        /// Legend key (the runtime); bars with the same key share a colour.
        public var series: String
        public var value: Double
        public init(label: String, series: String, value: Double) {
            self.label = label
            self.series = series
            self.value = value
        }
    }

    /// One box in a latency distribution chart.
    public struct Box: Sendable {
        public var label: String
        public var series: String
        /// Percentiles 1, 25, 50, 75, 99, and the mean, in the axis's unit.
        public var p1, q1, median, q3, p99, mean: Double
        public init(label: String, series: String, p1: Double, q1: Double, median: Double, q3: Double, p99: Double, mean: Double) {
            self.label = label
            self.series = series
            self.p1 = p1
            self.q1 = q1
            self.median = median
            self.q3 = q3
            self.p99 = p99
            self.mean = mean
        }

        /// The box of latency samples in nanoseconds, in milliseconds.
        public init(label: String, series: String, nanoseconds: [UInt64]) {
            let ms = nanoseconds.map { Double($0) / 1e6 }.sorted()
            self.init(label: label, series: series, p1: Statistics.percentile(sorted: ms, 1),
                      q1: Statistics.percentile(sorted: ms, 25), median: Statistics.percentile(sorted: ms, 50),
                      q3: Statistics.percentile(sorted: ms, 75), p99: Statistics.percentile(sorted: ms, 99),
                      mean: Statistics.mean(ms))
        }
    }

    /// A series of points for a line chart.
    public struct Line: Sendable {
        public var label: String
        public var points: [(x: Double, y: Double)]
        public init(label: String, points: [(x: Double, y: Double)]) {
            self.label = label
            self.points = points
        }
    }

    static let palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]

    /// Colour of each series, in first-appearance order.
    static func colors(_ series: [String]) -> [String: String] {
        var out: [String: String] = [:]
        for s in series where out[s] == nil { out[s] = palette[out.count % palette.count] }
        return out
    }

    static let rowHeight = 24.0
    static let fontSize = 12.0

    /// Left margin wide enough for the longest label (an estimate: 0.6 em per character).
    static func labelWidth(_ labels: [String]) -> Double {
        min(420, max(80, Double(labels.map(\.count).max() ?? 0) * fontSize * 0.6 + 16))
    }

    static func drawLegend(_ canvas: inout SVGCanvas, series: [String], colors: [String: String], x: Double, y: Double) {
        var cx = x
        for s in series {
            canvas.rect(x: cx, y: y - 10, width: 12, height: 12, fill: colors[s] ?? "#888", attrs: ["class": "legend-swatch"])
            canvas.text(s, x: cx + 16, y: y, size: 11, attrs: ["class": "legend"])
            cx += 16 + Double(s.count) * 11 * 0.6 + 18
        }
    }

    static func drawAxis(_ canvas: inout SVGCanvas, scale: AxisScale, y: Double, top: Double, title: String) {
        canvas.line(x1: scale.pixelStart, y1: y, x2: scale.pixelEnd, y2: y, stroke: "#333", attrs: ["class": "axis"])
        for t in scale.ticks {
            let x = scale.position(t)
            canvas.line(x1: x, y1: top, x2: x, y2: y, stroke: "#e3e3e3", attrs: ["class": "grid"])
            canvas.line(x1: x, y1: y, x2: x, y2: y + 5, stroke: "#333", attrs: ["class": "tick"])
            canvas.text(AxisScale.label(t), x: x, y: y + 18, size: 11, anchor: "middle", attrs: ["class": "tick-label"])
        }
        canvas.text(title, x: (scale.pixelStart + scale.pixelEnd) / 2, y: y + 38, size: 12, anchor: "middle",
                    attrs: ["class": "axis-title"])
    }

    /// A horizontal bar chart: one labelled bar per entry, values printed at the bar ends.
    /// - Parameters:
    ///   - title: the chart's heading.
    ///   - axisTitle: the value axis's title, with units.
    ///   - scale: linear or logarithmic value axis.
    ///   - note: shown instead of bars when `bars` is empty.
    public static func barChart(title: String, axisTitle: String, bars: [Bar], scale kind: AxisScale.Kind,
                                valueFormat: (Double) -> String = { String(format: "%.1f", $0) },
                                note: String = "no data", width: Double = 900) -> String {
        let left = labelWidth(bars.map(\.label))
        let top = 56.0
        guard !bars.isEmpty else { return noteChart(title: title, note: note, width: width) }
        let plotHeight = Double(bars.count) * rowHeight
        let height = top + plotHeight + 60
        var canvas = SVGCanvas(width: width, height: height)
        canvas.text(title, x: 12, y: 22, size: 15, weight: "bold", attrs: ["class": "title"])
        let series = uniqued(bars.map(\.series))
        let colors = colors(series)
        drawLegend(&canvas, series: series, colors: colors, x: 12, y: 42)
        let scale = AxisScale(kind: kind, covering: bars.map(\.value), pixels: left...(width - 70))
        drawAxis(&canvas, scale: scale, y: top + plotHeight + 4, top: top, title: axisTitle)
        for (i, bar) in bars.enumerated() {
            let y = top + Double(i) * rowHeight
            let x1 = scale.position(bar.value)
            canvas.text(bar.label, x: left - 8, y: y + rowHeight / 2 + 4, size: fontSize, anchor: "end", attrs: ["class": "row-label"])
            canvas.rect(x: scale.pixelStart, y: y + 4, width: x1 - scale.pixelStart, height: rowHeight - 8,
                        fill: colors[bar.series] ?? "#888",
                        attrs: ["class": "bar", "data-label": bar.label, "data-series": bar.series, "data-value": String(bar.value)])
            canvas.text(valueFormat(bar.value), x: x1 + 4, y: y + rowHeight / 2 + 4, size: 11, attrs: ["class": "value-label"])
        }
        return canvas.svg
    }

    /// Horizontal box plots of latency: box from the 25th to the 75th percentile, a line at the median, whiskers to
    /// the 1st and 99th percentiles, a dot at the mean. The axis is logarithmic when the values span more than
    /// a factor of 30, else linear.
    public static func boxPlot(title: String, axisTitle: String, boxes: [Box], width: Double = 900) -> String {
        guard !boxes.isEmpty else { return noteChart(title: title, note: "no latency samples", width: width) }
        let left = labelWidth(boxes.map(\.label))
        let top = 56.0
        let plotHeight = Double(boxes.count) * rowHeight
        var canvas = SVGCanvas(width: width, height: top + plotHeight + 60)
        canvas.text(title, x: 12, y: 22, size: 15, weight: "bold", attrs: ["class": "title"])
        let series = uniqued(boxes.map(\.series))
        let colors = colors(series)
        drawLegend(&canvas, series: series, colors: colors, x: 12, y: 42)
        let values = boxes.flatMap { [$0.p1, $0.p99] }
        let lo = values.filter { $0 > 0 }.min() ?? 1, hi = values.max() ?? 1
        let kind: AxisScale.Kind = hi / lo > 30 ? .logarithmic : .linear
        let scale = AxisScale(kind: kind, covering: values, pixels: left...(width - 30))
        drawAxis(&canvas, scale: scale, y: top + plotHeight + 4, top: top,
                 title: axisTitle + (kind == .logarithmic ? ", log scale" : ""))
        for (i, b) in boxes.enumerated() {
            let y = top + Double(i) * rowHeight
            let mid = y + rowHeight / 2
            let color = colors[b.series] ?? "#888"
            canvas.text(b.label, x: left - 8, y: mid + 4, size: fontSize, anchor: "end", attrs: ["class": "row-label"])
            canvas.line(x1: scale.position(b.p1), y1: mid, x2: scale.position(b.p99), y2: mid, stroke: "#555",
                        attrs: ["class": "whisker"])
            canvas.rect(x: scale.position(b.q1), y: y + 5, width: scale.position(b.q3) - scale.position(b.q1),
                        height: rowHeight - 10, fill: color,
                        attrs: ["class": "box", "data-label": b.label, "data-q1": String(b.q1), "data-q3": String(b.q3),
                                "fill-opacity": "0.6", "stroke": color])
            canvas.line(x1: scale.position(b.median), y1: y + 3, x2: scale.position(b.median), y2: y + rowHeight - 3,
                        stroke: "#000", width: 2, attrs: ["class": "median", "data-value": String(b.median)])
            canvas.circle(cx: scale.position(b.mean), cy: mid, r: 2.5, fill: "#000", attrs: ["class": "mean"])
        }
        return canvas.svg
    }

    /// A line chart of y against x (sustained fps over time).
    public static func lineChart(title: String, xTitle: String, yTitle: String, lines: [Line], width: Double = 900,
                                 height: Double = 420) -> String {
        let points = lines.flatMap(\.points)
        guard !points.isEmpty else { return noteChart(title: title, note: "no data", width: width) }
        var canvas = SVGCanvas(width: width, height: height)
        canvas.text(title, x: 12, y: 22, size: 15, weight: "bold", attrs: ["class": "title"])
        let names = lines.map(\.label)
        let colors = colors(names)
        drawLegend(&canvas, series: names, colors: colors, x: 12, y: 42)
        let left = 70.0, top = 60.0, bottom = height - 56
        let xs = AxisScale(kind: .linear, covering: points.map(\.x), pixels: left...(width - 30))
        let ys = AxisScale(kind: .linear, covering: points.map(\.y), pixels: top...bottom)
        drawAxis(&canvas, scale: xs, y: bottom, top: top, title: xTitle)
        // y axis: pixels grow downwards, so positions are mirrored.
        func py(_ v: Double) -> Double { bottom - (ys.position(v) - top) }
        canvas.line(x1: left, y1: top, x2: left, y2: bottom, stroke: "#333", attrs: ["class": "axis"])
        for t in ys.ticks {
            canvas.line(x1: left - 5, y1: py(t), x2: left, y2: py(t), stroke: "#333", attrs: ["class": "tick"])
            canvas.line(x1: left, y1: py(t), x2: width - 30, y2: py(t), stroke: "#e3e3e3", attrs: ["class": "grid"])
            canvas.text(AxisScale.label(t), x: left - 8, y: py(t) + 4, size: 11, anchor: "end", attrs: ["class": "tick-label"])
        }
        canvas.text(yTitle, x: 16, y: (top + bottom) / 2, size: 12, anchor: "middle",
                    attrs: ["class": "axis-title", "transform": "rotate(-90 16 \(SVGCanvas.n((top + bottom) / 2)))"])
        for line in lines {
            canvas.polyline(line.points.map { (xs.position($0.x), py($0.y)) }, stroke: colors[line.label] ?? "#888",
                            attrs: ["class": "series", "data-label": line.label])
        }
        return canvas.svg
    }

    /// A chart-sized panel that only says why there is no chart.
    public static func noteChart(title: String, note: String, width: Double = 900) -> String {
        var canvas = SVGCanvas(width: width, height: 110)
        canvas.text(title, x: 12, y: 22, size: 15, weight: "bold", attrs: ["class": "title"])
        canvas.text(note, x: 12, y: 64, size: 13, fill: "#a33", attrs: ["class": "note"])
        return canvas.svg
    }

    static func uniqued(_ values: [String]) -> [String] {
        var seen = Set<String>()
        return values.filter { seen.insert($0).inserted }
    }
}
