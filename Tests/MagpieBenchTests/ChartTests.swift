import Foundation
import XCTest
import MagpieBench
#if canImport(FoundationXML)
import FoundationXML
#endif

/// The elements of an SVG document, parsed back with Foundation's XMLParser.
final class SVGElements: NSObject, XMLParserDelegate {
    struct Element {
        var name: String
        var attributes: [String: String]
        var text = ""
        func number(_ key: String) -> Double { Double(attributes[key] ?? "") ?? .nan }
    }
    private(set) var elements: [Element] = []
    private var open: [Int] = []

    /// Parses `svg`; fails the test when it is not well-formed XML.
    init(_ svg: String, file: StaticString = #filePath, line: UInt = #line) {
        super.init()
        let parser = XMLParser(data: Data(svg.utf8))
        parser.delegate = self
        XCTAssertTrue(parser.parse(), "SVG is not well-formed: \(String(describing: parser.parserError))", file: file, line: line)
    }

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]) {
        elements.append(Element(name: name, attributes: attributes))
        open.append(elements.count - 1)
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        if let i = open.last { elements[i].text += string }
    }

    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        open.removeLast()
    }

    func withClass(_ c: String) -> [Element] { elements.filter { $0.attributes["class"] == c } }
    var texts: [String] { elements.filter { $0.name == "text" }.map(\.text) }
}

final class ChartTests: XCTestCase {
    let bars = [BenchCharts.Bar(label: "magpie t1", series: "magpie", value: 100),
                BenchCharts.Bar(label: "litert <xnn> & co", series: "litert", value: 400),
                BenchCharts.Bar(label: "magpie t2", series: "magpie", value: 200)]

    func testLinearBarChartHasAxesLabelsAndProportionalBars() {
        let svg = SVGElements(BenchCharts.barChart(title: "Throughput", axisTitle: "inferences per second (fps), linear scale",
                                                   bars: bars, scale: .linear))
        XCTAssertEqual(svg.elements.first?.name, "svg")
        XCTAssertEqual(svg.withClass("title").first?.text, "Throughput")
        XCTAssertEqual(svg.withClass("axis-title").first?.text, "inferences per second (fps), linear scale")
        XCTAssertEqual(svg.withClass("row-label").map(\.text), ["magpie t1", "litert <xnn> & co", "magpie t2"],
                       "labels are escaped and come back intact")
        XCTAssertEqual(svg.withClass("legend").map(\.text), ["magpie", "litert"])
        let rects = svg.withClass("bar")
        XCTAssertEqual(rects.map { Double($0.attributes["data-value"]!)! }, [100, 400, 200])
        let widths = rects.map { $0.number("width") }
        XCTAssertEqual(widths[1] / widths[0], 4, accuracy: 0.01, "a linear axis from 0: width is proportional to fps")
        XCTAssertEqual(widths[2] / widths[0], 2, accuracy: 0.01)
        XCTAssertEqual(rects[0].attributes["fill"], rects[2].attributes["fill"], "one colour per series")
        XCTAssertNotEqual(rects[0].attributes["fill"], rects[1].attributes["fill"])
        let ticks = svg.withClass("tick-label").map(\.text)
        XCTAssertEqual(ticks.first, "0")
        XCTAssertTrue(ticks.contains("400"), "\(ticks)")
        // Every tick label sits on its tick: the axis is labelled where it is drawn.
        let tickLines = svg.withClass("tick")
        XCTAssertEqual(tickLines.count, ticks.count)
        // The value printed at each bar's end.
        XCTAssertEqual(svg.withClass("value-label").map(\.text), ["100.0", "400.0", "200.0"])
    }

    func testLogBarChartSpacesDecadesEvenly() {
        let decades = [BenchCharts.Bar(label: "a", series: "s", value: 10), BenchCharts.Bar(label: "b", series: "s", value: 100),
                       BenchCharts.Bar(label: "c", series: "s", value: 1000)]
        let svg = SVGElements(BenchCharts.barChart(title: "t", axisTitle: "fps, log scale", bars: decades, scale: .logarithmic))
        let ends = svg.withClass("bar").map { $0.number("x") + $0.number("width") }
        XCTAssertEqual(ends[2] - ends[1], ends[1] - ends[0], accuracy: 0.05, "each decade takes the same width")
        let ticks = svg.withClass("tick-label").map(\.text)
        XCTAssertTrue(["10", "100", "1000"].allSatisfy(ticks.contains), "\(ticks)")
        XCTAssertEqual(svg.withClass("bar")[0].number("width"), 0, accuracy: 0.01, "10 is the axis's lower bound")
    }

    func testAxisScale() {
        let linear = AxisScale(kind: .linear, covering: [0, 37], pixels: 0...100)
        XCTAssertEqual(linear.upper, 40, "rounded up to a 1-2-5 step")
        XCTAssertEqual(linear.ticks, [0, 10, 20, 30, 40])
        XCTAssertEqual(linear.position(20), 50, accuracy: 1e-9)
        let log = AxisScale(kind: .logarithmic, covering: [3, 4500], pixels: 0...300)
        XCTAssertEqual(log.lower, 1)
        XCTAssertEqual(log.upper, 10_000)
        XCTAssertEqual(log.position(100), 150, accuracy: 1e-9)
        XCTAssertEqual(AxisScale.label(25_000), "25k")
        XCTAssertEqual(AxisScale.label(0.25), "0.25")
    }

    func testBoxPlotOrdersPercentiles() {
        let samples = (1...100).map { UInt64($0) * 1_000_000 }
        let box = BenchCharts.Box(label: "magpie", series: "magpie", nanoseconds: samples)
        XCTAssertEqual(box.median, 50.5, accuracy: 1e-9)
        XCTAssertEqual(box.q1, 25.75, accuracy: 1e-9)
        let svg = SVGElements(BenchCharts.boxPlot(title: "Latency", axisTitle: "milliseconds per inference", boxes: [box]))
        let rect = svg.withClass("box")[0]
        let median = svg.withClass("median")[0].number("x1")
        XCTAssertLessThan(rect.number("x"), median)
        XCTAssertLessThan(median, rect.number("x") + rect.number("width"))
        let whisker = svg.withClass("whisker")[0]
        XCTAssertLessThan(whisker.number("x1"), rect.number("x"))
        XCTAssertGreaterThan(whisker.number("x2"), rect.number("x") + rect.number("width"))
        XCTAssertEqual(svg.withClass("axis-title").first?.text, "milliseconds per inference, log scale",
                       "p1 1.99 ms to p99 99.01 ms spans more than 30x")
        let narrow = BenchCharts.Box(label: "n", series: "s", nanoseconds: (50...150).map { UInt64($0) * 1_000_000 })
        let linear = SVGElements(BenchCharts.boxPlot(title: "Latency", axisTitle: "ms", boxes: [narrow]))
        XCTAssertEqual(linear.withClass("axis-title").first?.text, "ms")
    }

    func testReportChartsFromADocument() {
        let energy = EnergyFigures.declared(watts: 10, wallSeconds: 0.006, inferences: 3)
        let doc = BenchDocument(results: [Fixtures.result(id: "magpie/m/t1", energy: energy),
                                          Fixtures.result(id: "litert/m/t1", runtime: "litert", machine: "pi")])
        let charts = Dictionary(uniqueKeysWithValues: BenchReport(document: doc).charts.map { ($0.name, $0.svg) })
        XCTAssertEqual(Set(charts.keys), ["fps-linear.svg", "fps-log.svg", "fps-per-watt.svg", "latency.svg"])
        let efficiency = SVGElements(charts["fps-per-watt.svg"]!)
        let bars = efficiency.withClass("bar")
        XCTAssertEqual(bars.count, 1, "only the result with energy")
        XCTAssertEqual(Double(bars[0].attributes["data-value"]!)!, 3 / 0.06, accuracy: 1e-6, "3 inferences per 0.06 J")
        XCTAssertTrue(efficiency.withClass("row-label")[0].text.contains("declared"))
        let fps = SVGElements(charts["fps-linear.svg"]!)
        XCTAssertEqual(fps.withClass("row-label").map(\.text), ["box · magpie/x · m · t1", "pi · litert/x · m · t1"],
                       "two machines: labels name them")

        let noEnergy = BenchDocument(results: [Fixtures.result(id: "a")])
        let note = SVGElements(BenchReport(document: noEnergy).charts.first { $0.name == "fps-per-watt.svg" }!.svg)
        XCTAssertTrue(note.withClass("bar").isEmpty)
        XCTAssertTrue(note.withClass("note").first?.text.contains("No energy figures") ?? false)
    }

    func testRowLabelsKeepRoundsAndRenamesDistinct() {
        let ids = ["magpie/reference/m/t1", "magpie/reference/m/t1/r2", "magpie/reference/m/t1#2"]
        let report = BenchReport(document: BenchDocument(results: ids.map { Fixtures.result(id: $0) }))
        XCTAssertEqual(report.document.results.map(report.rowLabel), ["magpie/x · m · t1", "magpie/x · m · t1 · r2", "magpie/x · m · t1 · #2"])
    }

    func testSustainedRunsGetAnFpsOverTimeChart() {
        var r = Fixtures.result(id: "a", samples: Array(repeating: 100_000_000, count: 30))
        r.windows = ThroughputWindow.windows(nanoseconds: r.samplesNs, seconds: 1)
        let charts = BenchReport(document: BenchDocument(results: [r])).charts
        let chart = try! XCTUnwrap(charts.first { $0.name == "fps-over-time.svg" })
        let svg = SVGElements(chart.svg)
        let line = svg.withClass("series")[0]
        XCTAssertEqual(line.attributes["points"]?.split(separator: " ").count, 3)
        XCTAssertEqual(svg.withClass("axis-title").map(\.text), ["seconds since the timed loop began", "fps"])
    }

    func testHTMLEmbedsChartsAndTables() {
        let doc = BenchDocument(results: [Fixtures.result(id: "a")], warnings: ["drift <here>"])
        let html = BenchReport(document: doc).html
        XCTAssertEqual(html.components(separatedBy: "<svg ").count - 1, 4)
        XCTAssertTrue(html.contains("drift &lt;here&gt;"))
        XCTAssertTrue(html.contains("fps"))
    }

    func testTerminalTableHasARowPerResultAndMachineComparison() {
        let doc = BenchDocument(results: [Fixtures.result(id: "a", machine: "pi"), Fixtures.result(id: "b", machine: "laptop")])
        let report = BenchReport(document: doc)
        let lines = report.resultsTable.split(separator: "\n")
        XCTAssertEqual(lines.count, 4, "header, rule, two results")
        XCTAssertTrue(lines[2].hasPrefix("pi"))
        let comparison = try! XCTUnwrap(report.machineComparisonTable)
        XCTAssertTrue(comparison.split(separator: "\n")[0].contains("pi fps"))
        XCTAssertTrue(comparison.split(separator: "\n")[0].contains("laptop fps"))
        XCTAssertNil(BenchReport(document: BenchDocument(results: [Fixtures.result(id: "a")])).machineComparisonTable)
    }
}
