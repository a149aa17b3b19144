import XCTest
import MagpieBench

/// Builds results from synthetic measurements.
enum Fixtures {
    static func fingerprint(_ name: String) -> MachineFingerprint {
        MachineFingerprint(name: name, hostname: name, cpuModel: "Test CPU", logicalCores: 4, isaFeatures: ["avx2", "fma"],
                           memoryBytes: 8 << 30, os: "Linux", kernel: "6.1", architecture: "x86_64", cpuGovernor: nil,
                           swiftCompiler: ">=6.0", magpieVersion: "0.1.0", gitCommit: String(repeating: "a", count: 40),
                           gitDirty: false, optimizedBuild: true)
    }

    static func result(id: String, runtime: String = "magpie", model: String = "m", threads: Int = 1,
                       samples: [UInt64] = [1_000_000, 2_000_000, 3_000_000], scores: [Float] = [0.1, 0.7, 0.2],
                       machine: String = "box", macs: Int? = 300_000_000, energy: EnergyFigures? = nil,
                       profile: [[OperatorSample]] = []) -> BenchResult {
        let wall = samples.reduce(0, +)
        let m = Measurement(initNanoseconds: 5_000_000, firstInferenceNanoseconds: 4_000_000, warmupNanoseconds: [3_000_000],
                            samplesNanoseconds: samples, loopWallNanoseconds: wall, loopStart: 0, loopEnd: wall,
                            resources: ResourceFigures(userCPUSeconds: 0.005, systemCPUSeconds: 0.001,
                                                       wallSeconds: Double(wall) / 1e9, peakRSSBytes: 50 << 20),
                            scores: scores, profile: profile)
        let facts = ModelFacts(name: model, path: "/models/\(model).tflite", fileBytes: 1234, operatorCount: 3,
                               parameters: 1000, multiplyAccumulates: macs, inputs: ["uint8[1, 2, 2, 3]"], outputs: ["uint8[1, 3]"])
        return BenchResult(id: id, runtime: RuntimeInfo(name: runtime, version: "1.0", configuration: "x"), model: facts,
                           threads: threads, method: BenchMethod(pauseSeconds: 0, runs: samples.count), input: "random (seed 1)",
                           measurement: m, labels: ["bg", "macaw", "cat"], energy: energy,
                           energyNote: energy == nil ? "n/a: test" : nil, fingerprint: fingerprint(machine))
    }
}

final class SchemaTests: XCTestCase {
    func testResultFiguresComeFromTheMeasurement() {
        let r = Fixtures.result(id: "a")
        XCTAssertEqual(r.fps, 3 / 0.006, accuracy: 1e-6, "3 runs in 6 ms of loop")
        XCTAssertEqual(r.gmacPerSecond!, 0.3 * r.fps, accuracy: 1e-9, "300 M MACs per inference")
        XCTAssertEqual(r.latency.medianMs, 2, accuracy: 1e-9)
        XCTAssertEqual(r.initMs, 5)
        XCTAssertEqual(r.top.map(\.index), [1, 2, 0])
        XCTAssertEqual(r.top.first?.label, "macaw")
        XCTAssertEqual(r.samplesNs, [1_000_000, 2_000_000, 3_000_000])
        XCTAssertEqual(r.energyNote, "n/a: test")
        XCTAssertEqual(r.resources.cpuUtilization, 1, accuracy: 1e-9)
    }

    func testDocumentRoundTripsThroughJSON() throws {
        let energy = EnergyFigures.declared(watts: 5, wallSeconds: 0.006, inferences: 3)
        let ops = [[OperatorSample(index: 0, type: "CONV_2D", nanoseconds: 30), OperatorSample(index: 1, type: "ADD", nanoseconds: 10)]]
        let doc = BenchDocument(results: [Fixtures.result(id: "a", energy: energy, profile: ops), Fixtures.result(id: "b", scores: [0.5, 0.2, 0.3])],
                                agreements: [], warnings: ["w"])
        let data = try doc.jsonData()
        let decoded = try BenchDocument.decode(data)
        XCTAssertEqual(decoded, doc)
        let object = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        XCTAssertEqual(object["schema"] as? String, "magpie-bench/1")
        let first = (object["results"] as! [[String: Any]])[0]
        XCTAssertEqual((first["samplesNs"] as? [Int])?.count, 3, "every sample is in the file")
        XCTAssertNotNil(first["fingerprint"] as? [String: Any])
        XCTAssertEqual((first["energy"] as? [String: Any])?["source"] as? String, "declared")
    }

    func testOtherSchemasAreRefused() throws {
        var object = try JSONSerialization.jsonObject(with: try BenchDocument(results: [Fixtures.result(id: "a")]).jsonData()) as! [String: Any]
        object["schema"] = "magpie-bench/2"
        XCTAssertThrowsError(try BenchDocument.decode(try JSONSerialization.data(withJSONObject: object), source: "x.json")) { error in
            XCTAssertEqual("\(error)", "x.json: schema is 'magpie-bench/2', expected 'magpie-bench/1'")
        }
        XCTAssertThrowsError(try BenchDocument.decode(Data("[1]".utf8), source: "y.json"))
        object["schema"] = "magpie-bench/1"
        object["results"] = [["id": "only an id"]]
        XCTAssertThrowsError(try BenchDocument.decode(try JSONSerialization.data(withJSONObject: object), source: "z.json")) { error in
            XCTAssertTrue("\(error)".hasPrefix("z.json: missing"), "\(error)")
        }
    }

    func testMergeKeepsEveryResultAndRenamesClashes() throws {
        let a = BenchDocument(results: [Fixtures.result(id: "magpie/m/t1", machine: "pi"), Fixtures.result(id: "litert/m/t1", machine: "pi")],
                              warnings: ["same", "pi only"])
        var b = BenchDocument(results: [Fixtures.result(id: "magpie/m/t1", machine: "laptop")], warnings: ["same"])
        b.agreements = [Agreement(a: "magpie/m/t1", [1, 2], b: "magpie/m/t1", [1, 2])!]
        // Round-trip through files, as `magpie report` does.
        let decoded = try [a, b].map { try BenchDocument.decode(try $0.jsonData()) }
        let merged = BenchDocument.merged(decoded)
        XCTAssertEqual(merged.results.map(\.id), ["magpie/m/t1", "litert/m/t1", "magpie/m/t1#2"])
        XCTAssertEqual(merged.results.map(\.fingerprint.name), ["pi", "pi", "laptop"])
        XCTAssertEqual(merged.agreements.first?.a, "magpie/m/t1#2", "agreements follow their document's renames")
        XCTAssertEqual(merged.warnings, ["same", "pi only"])
        XCTAssertEqual(Set(merged.results.map(\.id)).count, merged.results.count)
    }

    func testTopKAndAgreement() {
        let top = RankedClass.top([0.2, 0.5, 0.5, .nan, 0.1], k: 3, labels: ["a", "b"])
        XCTAssertEqual(top.map(\.index), [1, 2, 0], "ties keep the lower index first; NaN never ranks")
        XCTAssertEqual(top.map(\.label), ["b", nil, "a"])
        let agreement = Agreement(a: "x", [0.1, 0.6, 0.3], b: "y", [0.1, 0.35, 0.55])!
        XCTAssertFalse(agreement.top1Agrees)
        XCTAssertEqual(agreement.topA, 1)
        XCTAssertEqual(agreement.topB, 2)
        XCTAssertEqual(agreement.maxAbsDifference, 0.25, accuracy: 1e-6)
        XCTAssertNil(Agreement(a: "x", [1, 2], b: "y", [1, 2, 3]), "different output sizes are not comparable")
    }

    func testAgreementPairsCompareEachConfigurationOnce() {
        let results = [
            Fixtures.result(id: "magpie/f/t1", model: "f", threads: 1),
            Fixtures.result(id: "magpie/f/t2", model: "f", threads: 2),
            Fixtures.result(id: "litert/f/t1", runtime: "litert", model: "f", scores: [0.1, 0.65, 0.25]),
            Fixtures.result(id: "magpie/other/t1", model: "other", scores: [1, 2, 3, 4]),
        ]
        let pairs = Agreement.pairs(in: results)
        XCTAssertEqual(pairs.map { "\($0.a)~\($0.b)" }, ["magpie/f/t1~litert/f/t1"])
        XCTAssertEqual(pairs[0].maxAbsDifference, 0.05, accuracy: 1e-6)
        XCTAssertTrue(pairs[0].top1Agrees)
    }

    func testProfileAggregatesMediansByOperatorAndType() {
        let runs: [[OperatorSample]] = [[30, 10, 60], [50, 10, 40], [40, 12, 50]].map { times in
            zip(["CONV_2D", "ADD", "CONV_2D"], times).enumerated().map { OperatorSample(index: $0, type: $1.0, nanoseconds: UInt64($1.1) * 1_000_000) }
        }
        let p = OperatorProfile(runs: runs)
        XCTAssertEqual(p.operators.map(\.medianMs), [40, 10, 50])
        XCTAssertEqual(p.totalMs, 100, accuracy: 1e-9)
        XCTAssertEqual(p.types.map(\.type), ["CONV_2D", "ADD"])
        XCTAssertEqual(p.types[0].count, 2)
        XCTAssertEqual(p.types[0].percent, 90, accuracy: 1e-9)
        XCTAssertEqual(p.operators.reduce(0) { $0 + $1.percent }, 100, accuracy: 1e-9)
        let csv = p.csv.split(separator: "\n", omittingEmptySubsequences: false)
        XCTAssertEqual(csv[0], "index,type,median_ms,percent")
        XCTAssertEqual(csv[1], "0,CONV_2D,40.000000,40.000")
        XCTAssertTrue(p.table().contains("CONV_2D"))
    }
}
