import Foundation
import XCTest
import MagpieBench

final class EnergyAndFingerprintTests: XCTestCase {
    private var root: URL!

    override func setUpWithError() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("magpie-energy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: root)
    }

    private func write(_ text: String, _ path: String) throws {
        let url = root.appendingPathComponent(path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
    }

    func testRAPLSumsPackagesAndHandlesWraparound() throws {
        try write("package-0\n", "intel-rapl:0/name")
        try write("1000000000\n", "intel-rapl:0/max_energy_range_uj")
        try write("999000000\n", "intel-rapl:0/energy_uj")
        try write("package-1\n", "intel-rapl:1/name")
        try write("1000000000\n", "intel-rapl:1/max_energy_range_uj")
        try write("5000000\n", "intel-rapl:1/energy_uj")
        // A sub-zone (part of package 0) must not be added again.
        try write("core\n", "intel-rapl:0:0/name")
        try write("1000000000\n", "intel-rapl:0:0/max_energy_range_uj")
        try write("0\n", "intel-rapl:0:0/energy_uj")
        let rapl = try XCTUnwrap(RAPLCounter.discover(root: root.path))
        XCTAssertEqual(rapl.zones.map(\.name), ["package-0", "package-1"])
        XCTAssertEqual(try rapl.advance(now: 0), 0, "the first reading is the baseline")
        try write("1000000\n", "intel-rapl:0/energy_uj")   // wrapped: 1 J to the top, then 1 J
        try write("7500000\n", "intel-rapl:1/energy_uj")   // 2.5 J
        XCTAssertEqual(try rapl.advance(now: 1), 4.5, accuracy: 1e-9)
        XCTAssertTrue(rapl.detail.contains("package-0"))
    }

    func testNoRAPLDirectoryMeansNoCounter() {
        XCTAssertNil(RAPLCounter.discover(root: root.appendingPathComponent("absent").path))
        XCTAssertNil(RAPLCounter.discover(root: root.path))
    }

    func testINAUsesTheBoardInputRailAndIntegratesPower() throws {
        try write("VDD_IN\n", "iio:device0/rail_name_0")
        try write("5000\n", "iio:device0/in_power0_input")        // 5 W, in mW
        try write("VDD_CPU_GPU_CV\n", "iio:device0/rail_name_1")
        try write("2000\n", "iio:device0/in_power1_input")
        let ina = try XCTUnwrap(INACounter.discover(iioRoots: [root.path], hwmonRoot: root.appendingPathComponent("none").path))
        XCTAssertEqual(ina.rails.map(\.name), ["VDD_IN"], "the input rail already contains the others")
        XCTAssertEqual(try ina.advance(now: 0), 0)
        try write("7000\n", "iio:device0/in_power0_input")
        // Trapezoid over 2 s from 5 W to 7 W: 12 J.
        XCTAssertEqual(try ina.advance(now: 2_000_000_000), 12, accuracy: 1e-9)
    }

    func testINAWithoutAnInputRailSumsHwmonRails() throws {
        try write("ina3221\n", "hwmon3/name")
        try write("CPU\n", "hwmon3/power1_label")
        try write("1500000\n", "hwmon3/power1_input")             // µW
        try write("GPU\n", "hwmon3/power2_label")
        try write("500000\n", "hwmon3/power2_input")
        try write("coretemp\n", "hwmon4/name")
        try write("9999999\n", "hwmon4/power1_input")             // not an INA: ignored
        let ina = try XCTUnwrap(INACounter.discover(iioRoots: [], hwmonRoot: root.path))
        XCTAssertEqual(ina.rails.map(\.name), ["CPU", "GPU"])
        _ = try ina.advance(now: 0)
        XCTAssertEqual(try ina.advance(now: 1_000_000_000), 2, accuracy: 1e-9, "2 W for 1 s")
    }

    func testEnergyMeterInterpolatesBetweenReadings() throws {
        /// 1 J per call.
        final class Steady: EnergyCounter {
            let kind = EnergySourceKind.rapl
            let detail = "steady"
            var calls = 0
            func advance(now: UInt64) throws -> Double { calls += 1; return calls == 1 ? 0 : 1 }
        }
        let meter = EnergyMeter(counter: Steady())
        let t0 = meter.mark()
        let t1 = meter.mark()
        let t2 = meter.mark()
        XCTAssertEqual(try meter.joules(from: t0, to: t2), 2, accuracy: 1e-9)
        XCTAssertEqual(try meter.joules(from: t1, to: t2), 1, accuracy: 1e-9)
        if t2 > t1 + 1 {
            let mid = t1 + (t2 - t1) / 2
            XCTAssertEqual(try meter.joules(from: t1, to: mid), Double(mid - t1) / Double(t2 - t1), accuracy: 1e-9)
        }
        XCTAssertThrowsError(try meter.joules(from: t0, to: t2 + 1_000_000_000), "outside the sampled series")
    }

    func testDeclaredEnergyFigures() {
        let e = EnergyFigures.declared(watts: 6, wallSeconds: 2, inferences: 300)
        XCTAssertEqual(e.source, .declared)
        XCTAssertEqual(e.joules, 12)
        XCTAssertEqual(e.joulesPerInference, 0.04, accuracy: 1e-12)
        XCTAssertEqual(e.fpsPerWatt, 25, accuracy: 1e-9, "150 fps at 6 W")
        XCTAssertEqual(e.averageWatts, 6)
        XCTAssertTrue(e.detail.contains("declared"))
    }

    func testCPUInfoParsing() {
        let x86 = """
            processor\t: 0
            model name\t: AMD EPYC 9R14 96-Core Processor
            flags\t\t: fpu sse4_2 avx avx2 fma avx512f avx512_vnni avx512_bf16 avx512bw
            processor\t: 1
            model name\t: AMD EPYC 9R14 96-Core Processor
            """
        let parsed = MachineFingerprint.parseCPUInfo(x86)
        XCTAssertEqual(parsed.model, "AMD EPYC 9R14 96-Core Processor")
        XCTAssertEqual(parsed.features, ["sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16"])
        let arm = """
            processor\t: 0
            Features\t: fp asimd evtstrm aes crc32 atomics fphp asimdhp asimddp
            Model\t\t: Raspberry Pi 5 Model B Rev 1.0
            """
        let a = MachineFingerprint.parseCPUInfo(arm)
        XCTAssertEqual(a.model, "Raspberry Pi 5 Model B Rev 1.0")
        XCTAssertEqual(a.features, ["asimd", "asimdhp", "asimddp"])
    }

    func testCurrentFingerprintReadsThisMachine() throws {
        let f = MachineFingerprint.current(name: "here")
        XCTAssertEqual(f.name, "here")
        XCTAssertGreaterThan(f.logicalCores, 0)
        XCTAssertFalse(f.kernel.isEmpty)
        XCTAssertFalse(f.architecture.isEmpty)
        XCTAssertTrue(f.swiftCompiler.hasPrefix(">=6"))
        if let commit = f.gitCommit {
            XCTAssertEqual(commit.count, 40)
            XCTAssertTrue(commit.allSatisfy(\.isHexDigit))
        }
        #if os(Linux)
        XCTAssertEqual(f.os, "Linux")
        let cpuinfo = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
        for feature in f.isaFeatures { XCTAssertTrue(cpuinfo.contains(" \(feature)"), feature) }
        #endif
        XCTAssertTrue(f.summary.hasPrefix("here: "))
    }
}
