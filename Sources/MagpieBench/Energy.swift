import Foundation

/// Where an energy figure comes from.
public enum EnergySourceKind: String, Codable, Sendable {
    /// Intel/AMD RAPL package counters (`/sys/class/powercap/intel-rapl:N/energy_uj`): measured.
    case rapl
    /// INA3221-style power monitors (Jetson: `in_power*_input`): measured power, integrated over time.
    case ina
    /// A constant power given with `--watts`: declared by the user, not measured.
    case declared
}

/// Energy over a timed loop.
public struct EnergyFigures: Codable, Sendable, Equatable {
    public var source: EnergySourceKind
    /// Which files or what declaration (`RAPL package-0 (/sys/class/powercap/intel-rapl:0)`, `declared 6 W`).
    public var detail: String
    public var joules: Double
    /// joules / loop wall seconds.
    public var averageWatts: Double
    public var joulesPerInference: Double
    /// fps / average watts (= inferences per joule).
    public var fpsPerWatt: Double

    public init(source: EnergySourceKind, detail: String, joules: Double, wallSeconds: Double, inferences: Int) {
        self.source = source
        self.detail = detail
        self.joules = joules
        averageWatts = wallSeconds > 0 ? joules / wallSeconds : 0
        joulesPerInference = inferences > 0 ? joules / Double(inferences) : 0
        fpsPerWatt = joules > 0 ? Double(inferences) / joules : 0
    }

    /// Figures for a declared constant power.
    public static func declared(watts: Double, wallSeconds: Double, inferences: Int) -> EnergyFigures {
        EnergyFigures(source: .declared, detail: "declared \(watts) W (--watts), not measured",
                      joules: watts * wallSeconds, wallSeconds: wallSeconds, inferences: inferences)
    }
}

/// A cumulative energy counter read from sysfs.
public protocol EnergyCounter: AnyObject {
    var kind: EnergySourceKind { get }
    var detail: String { get }
    /// Joules consumed since the previous call at monotonic time `now` (nanoseconds); the first call sets the
    /// baseline and returns 0.
    /// - Throws: when a file cannot be read any more.
    func advance(now: UInt64) throws -> Double
}

/// Reads an integer from a sysfs file.
func readSysfsInteger(_ path: String) throws -> UInt64 {
    let text = try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
    guard let value = UInt64(text) else {
        throw BenchError.energy("\(path) does not hold an integer ('\(text.prefix(40))')")
    }
    return value
}

/// RAPL package zones. Only top-level zones (`intel-rapl:0`, `intel-rapl:1`: one per package) are summed; their
/// sub-zones (core, uncore, dram: `intel-rapl:0:0`) are parts of a package's energy and would be counted twice.
/// The counter wraps at `max_energy_range_uj`; a reading smaller than the last adds the range. The counters are
/// read at least every sampling interval (1 s), far more often than they can wrap (minutes at hundreds of watts).
public final class RAPLCounter: EnergyCounter {
    public struct Zone: Sendable, Equatable {
        public var name: String
        public var energyPath: String
        public var maxRangeMicrojoules: UInt64
    }
    public let zones: [Zone]
    public let kind = EnergySourceKind.rapl
    public var detail: String {
        "RAPL " + zones.map { "\($0.name) (\(URL(fileURLWithPath: $0.energyPath).deletingLastPathComponent().path))" }
            .joined(separator: " + ")
    }
    private var last: [UInt64]?

    public init(zones: [Zone]) { self.zones = zones }

    /// The readable package zones under `root` (normally /sys/class/powercap), or nil when there are none.
    /// Since Linux 5.10 `energy_uj` is readable by root only; unreadable zones are skipped.
    public static func discover(root: String = "/sys/class/powercap") -> RAPLCounter? {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: root) else { return nil }
        var zones: [Zone] = []
        for entry in entries.sorted() {
            let parts = entry.split(separator: ":")
            guard parts.count == 2, parts[0].hasSuffix("rapl"), Int(parts[1]) != nil else { continue }
            let dir = root + "/" + entry
            let energy = dir + "/energy_uj"
            guard (try? readSysfsInteger(energy)) != nil,
                  let range = try? readSysfsInteger(dir + "/max_energy_range_uj"), range > 0 else { continue }
            let name = (try? String(contentsOfFile: dir + "/name", encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines) ?? entry
            zones.append(Zone(name: name, energyPath: energy, maxRangeMicrojoules: range))
        }
        return zones.isEmpty ? nil : RAPLCounter(zones: zones)
    }

    public func advance(now: UInt64) throws -> Double {
        let values = try zones.map { try readSysfsInteger($0.energyPath) }
        defer { last = values }
        guard let last else { return 0 }
        var microjoules: UInt64 = 0
        for (i, zone) in zones.enumerated() {
            microjoules += values[i] >= last[i] ? values[i] - last[i] : values[i] + (zone.maxRangeMicrojoules - last[i])
        }
        return Double(microjoules) / 1e6
    }
}

/// INA3221-style power rails (Jetson): instantaneous power, integrated with the trapezoidal rule between readings.
///
/// Files: IIO devices' `in_power<N>_input` (milliwatts; rail names in `rail_name_<N>`), and hwmon devices whose
/// `name` starts with `ina`, `power<N>_input` (microwatts; names in `power<N>_label`). When a rail named like a
/// board input (`VDD_IN`, `POM_5V_IN`) exists, only it is used, since the other rails are parts of it;
/// otherwise all rails are summed.
public final class INACounter: EnergyCounter {
    public struct Rail: Sendable, Equatable {
        public var name: String
        public var path: String
        /// Watts per unit of the file's value (1e-3 for mW, 1e-6 for µW).
        public var wattsPerUnit: Double
    }
    public let rails: [Rail]
    public let kind = EnergySourceKind.ina
    public var detail: String { "INA rails " + rails.map { "\($0.name) (\($0.path))" }.joined(separator: " + ") }
    private var last: (time: UInt64, watts: Double)?

    public init(rails: [Rail]) { self.rails = rails }

    /// Rails found under the given roots, or nil when there are none.
    public static func discover(iioRoots: [String] = ["/sys/bus/iio/devices"],
                                hwmonRoot: String = "/sys/class/hwmon") -> INACounter? {
        let fm = FileManager.default
        var rails: [Rail] = []
        for root in iioRoots {
            for device in ((try? fm.contentsOfDirectory(atPath: root)) ?? []).sorted() {
                let dir = root + "/" + device
                for file in ((try? fm.contentsOfDirectory(atPath: dir)) ?? []).sorted()
                where file.hasPrefix("in_power") && file.hasSuffix("_input") {
                    let n = file.dropFirst("in_power".count).dropLast("_input".count)
                    let label = (try? String(contentsOfFile: "\(dir)/rail_name_\(n)", encoding: .utf8))?
                        .trimmingCharacters(in: .whitespacesAndNewlines) ?? "\(device)/power\(n)"
                    if (try? readSysfsInteger(dir + "/" + file)) != nil {
                        rails.append(Rail(name: label, path: dir + "/" + file, wattsPerUnit: 1e-3))
                    }
                }
            }
        }
        for device in ((try? fm.contentsOfDirectory(atPath: hwmonRoot)) ?? []).sorted() {
            let dir = hwmonRoot + "/" + device
            guard let name = try? String(contentsOfFile: dir + "/name", encoding: .utf8),
                  name.lowercased().hasPrefix("ina") else { continue }
            for file in ((try? fm.contentsOfDirectory(atPath: dir)) ?? []).sorted()
            where file.hasPrefix("power") && file.hasSuffix("_input") {
                let n = file.dropFirst("power".count).dropLast("_input".count)
                let label = (try? String(contentsOfFile: "\(dir)/power\(n)_label", encoding: .utf8))?
                    .trimmingCharacters(in: .whitespacesAndNewlines) ?? "\(device)/power\(n)"
                if (try? readSysfsInteger(dir + "/" + file)) != nil {
                    rails.append(Rail(name: label, path: dir + "/" + file, wattsPerUnit: 1e-6))
                }
            }
        }
        guard !rails.isEmpty else { return nil }
        if let total = rails.first(where: { $0.name.uppercased().hasSuffix("_IN") || $0.name.uppercased() == "VIN" }) {
            return INACounter(rails: [total])
        }
        return INACounter(rails: rails)
    }

    public func advance(now: UInt64) throws -> Double {
        let watts = try rails.reduce(0.0) { $0 + Double(try readSysfsInteger($1.path)) * $1.wattsPerUnit }
        defer { last = (now, watts) }
        guard let last, now > last.time else { return 0 }
        return (watts + last.watts) / 2 * Double(now - last.time) / 1e9
    }
}

/// Samples an energy counter on a background thread and answers "how many joules between t0 and t1".
///
/// The meter keeps a series of (monotonic time, cumulative joules) points: one every `interval`, plus one at each
/// `mark()`. Energy between two instants is interpolated linearly on that series, so marks at the loop's start and
/// end make in-process figures exact to the counter's resolution; for the peer runner, whose loop times come from
/// another process, the figures are interpolated between samples.
public final class EnergyMeter: @unchecked Sendable {
    public let counter: any EnergyCounter
    private let lock = NSLock()
    private var series: [(time: UInt64, joules: Double)] = []
    private var cumulative = 0.0
    private var running = false
    private var thread: Thread?
    private var failure: (any Error)?

    public init(counter: any EnergyCounter) { self.counter = counter }

    /// Finds RAPL or INA counters on this machine; nil when there are none (energy is then "n/a").
    public static func discover() -> EnergyMeter? {
        if let rapl = RAPLCounter.discover() { return EnergyMeter(counter: rapl) }
        if let ina = INACounter.discover() { return EnergyMeter(counter: ina) }
        return nil
    }

    /// Starts sampling every `interval` seconds.
    public func start(interval: Double = 0.1) {
        lock.lock()
        guard !running else { lock.unlock(); return }
        running = true
        lock.unlock()
        mark()
        let t = Thread { [weak self] in
            while let self, self.isRunning {
                Thread.sleep(forTimeInterval: interval)
                self.mark()
            }
        }
        t.name = "magpie-energy"
        thread = t
        t.start()
    }

    private var isRunning: Bool { lock.lock(); defer { lock.unlock() }; return running }

    /// Stops sampling after one last reading.
    public func stop() {
        mark()
        lock.lock()
        running = false
        lock.unlock()
    }

    /// Takes a reading now and returns its time.
    @discardableResult
    public func mark() -> UInt64 {
        lock.lock()
        defer { lock.unlock() }
        let now = MonotonicClock.now()
        do {
            cumulative += try counter.advance(now: now)
            series.append((now, cumulative))
        } catch {
            failure = failure ?? error
        }
        return now
    }

    /// Joules consumed between two monotonic instants.
    /// - Throws: `BenchError.energy` when the counter failed or the interval is outside the sampled series.
    public func joules(from start: UInt64, to end: UInt64) throws -> Double {
        lock.lock()
        defer { lock.unlock() }
        if let failure { throw BenchError.energy("reading \(counter.detail) failed: \(failure)") }
        guard let first = series.first, let last = series.last, start >= first.time, end <= last.time, start <= end else {
            throw BenchError.energy("the interval was not covered by energy samples")
        }
        return Self.interpolate(series, at: end) - Self.interpolate(series, at: start)
    }

    static func interpolate(_ series: [(time: UInt64, joules: Double)], at t: UInt64) -> Double {
        var lo = 0, hi = series.count - 1
        while hi - lo > 1 {
            let mid = (lo + hi) / 2
            if series[mid].time <= t { lo = mid } else { hi = mid }
        }
        let a = series[lo], b = series[hi]
        guard b.time > a.time else { return a.joules }
        let f = Double(t > a.time ? t - a.time : 0) / Double(b.time - a.time)
        return a.joules + min(1, f) * (b.joules - a.joules)
    }
}
