import ArgumentParser
import Foundation
import MagpieBench

/// `magpie report`: merges result files and draws the charts.
struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Merge benchmark results, print them side by side and draw the charts.",
        discussion: """
            Reads files written by `magpie bench --json` (schema magpie-bench/1), from one machine or many, and \
            prints one table. Charts are SVG drawn by Magpie: fps (linear and log scale), fps per watt (results \
            with energy only), latency distributions and, for --duration runs, fps over time.

            Examples:
              magpie report laptop.json pi5.json jetson.json
              magpie report *.json --svg charts/ --html report.html
              magpie report a.json b.json --json merged.json
            """)

    @Argument(help: "Result files (magpie-bench/1 JSON).")
    var files: [String]

    @Option(help: "Write the charts (SVG) to this directory.")
    var svg: String?

    @Option(help: "Write a one-page HTML report (tables and charts) to this file.")
    var html: String?

    @Option(help: "Write the merged results to this file.")
    var json: String?

    func validate() throws {
        if files.isEmpty { throw ValidationError("give at least one result file") }
    }

    func run() throws {
        let documents: [BenchDocument]
        do {
            documents = try files.map { try BenchDocument.read(contentsOfFile: $0) }
        } catch let e as BenchError {
            throw CommandFailure(e.description)
        }
        let merged = BenchDocument.merged(documents)
        let report = BenchReport(document: merged)
        if let json { try write(try merged.jsonData(), to: json) }
        if let svg {
            do { _ = try report.writeCharts(to: svg) } catch {
                throw CommandFailure("cannot write charts to '\(svg)': \(error.localizedDescription)")
            }
        }
        if let html { try write(Data(report.html.utf8), to: html) }
        print(report.text)
    }
}
