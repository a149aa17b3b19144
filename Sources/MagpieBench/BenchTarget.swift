import Foundation

/// Errors of the benchmark module; each message says what is wrong and where.
public enum BenchError: Error, CustomStringConvertible, Equatable {
    /// The target failed to load, prepare or run.
    case target(String)
    /// The peer runner failed or is missing something (the message says how to install it).
    case peer(String)
    /// An energy source could not be read.
    case energy(String)
    /// A result file is unreadable, of another schema, or inconsistent.
    case schema(String)
    /// An option value is invalid.
    case invalidArgument(String)

    public var description: String {
        switch self {
        case .target(let m), .peer(let m), .energy(let m), .schema(let m), .invalidArgument(let m): m
        }
    }
}

/// Something the benchmark method can time in this process: one model in one runtime with one configuration.
///
/// The method calls `prepare()` once (timed as *init*), then `runOnce()` for the first inference, the warm-up and
/// every timed sample. One `runOnce()` is what an application does per frame: copy the prepared input into the
/// model, run it, and copy the output out.
public protocol BenchTarget: AnyObject {
    /// Loads and prepares the model. Called once, before anything else; its duration is the *init* time.
    func prepare() throws
    /// One inference on the prepared input.
    func runOnce() throws
    /// The first output of the last inference, dequantized to real values (what `topK` and agreement use).
    func outputScores() throws -> [Float]
    /// Runs one inference and returns each operator's time, or nil when the target cannot profile.
    func profileOnce() throws -> [OperatorSample]?
}

extension BenchTarget {
    public func profileOnce() throws -> [OperatorSample]? { nil }
}

/// One operator's time in one profiled inference.
public struct OperatorSample: Sendable, Equatable {
    public var index: Int
    /// The builtin name (`CONV_2D`).
    public var type: String
    public var nanoseconds: UInt64
    public init(index: Int, type: String, nanoseconds: UInt64) {
        self.index = index
        self.type = type
        self.nanoseconds = nanoseconds
    }
}

/// The benchmark method: what happens between loading a model and the last timed inference.
///
/// The default is the field report's: 1 warm-up inference, a 1 s pause, then the same input 250 times.
public struct BenchMethod: Codable, Sendable, Equatable {
    /// Untimed inferences after the first one, before the pause.
    public var warmupRuns: Int
    /// Seconds to sleep between warm-up and the timed loop (lets clocks and caches settle as in the field report).
    public var pauseSeconds: Double
    /// Timed inferences; with `minimumSeconds` the loop also runs until that much time has passed.
    public var runs: Int
    /// Keep running until at least this many seconds have passed (and at least `runs` inferences).
    public var minimumSeconds: Double?
    /// Sustained mode: run for this many seconds and report fps per window.
    public var durationSeconds: Double?
    /// Width of the sustained-mode windows; nil picks duration / 30, at least 1 s.
    public var windowSeconds: Double?
    /// Profiled inferences after the timed loop (0 = no profile).
    public var profileRuns: Int

    public init(warmupRuns: Int = 1, pauseSeconds: Double = 1, runs: Int = 250, minimumSeconds: Double? = nil,
                durationSeconds: Double? = nil, windowSeconds: Double? = nil, profileRuns: Int = 0) {
        self.warmupRuns = warmupRuns
        self.pauseSeconds = pauseSeconds
        self.runs = runs
        self.minimumSeconds = minimumSeconds
        self.durationSeconds = durationSeconds
        self.windowSeconds = windowSeconds
        self.profileRuns = profileRuns
    }

    /// The field report's method.
    public static let fieldReport = BenchMethod()

    /// The window width used in sustained mode.
    public var effectiveWindowSeconds: Double? {
        guard let durationSeconds else { return nil }
        return windowSeconds ?? max(1, durationSeconds / 30)
    }

    /// Throws when a field is out of range.
    public func validate() throws {
        guard warmupRuns >= 0 else { throw BenchError.invalidArgument("warm-up runs must be 0 or more") }
        guard pauseSeconds >= 0 else { throw BenchError.invalidArgument("the pause must be 0 s or more") }
        guard runs >= 1 else { throw BenchError.invalidArgument("runs must be at least 1") }
        if let minimumSeconds, minimumSeconds <= 0 { throw BenchError.invalidArgument("--min-seconds must be positive") }
        if let durationSeconds, durationSeconds <= 0 { throw BenchError.invalidArgument("--duration must be positive") }
        if let windowSeconds, windowSeconds <= 0 { throw BenchError.invalidArgument("the window must be positive") }
        guard profileRuns >= 0 else { throw BenchError.invalidArgument("profile runs must be 0 or more") }
    }
}

/// What a measurement produced, before statistics: raw times, CPU, memory and outputs.
public struct Measurement: Sendable {
    /// Load + prepare, nanoseconds.
    public var initNanoseconds: UInt64
    /// The first inference after preparation.
    public var firstInferenceNanoseconds: UInt64
    /// Each warm-up inference.
    public var warmupNanoseconds: [UInt64]
    /// Each timed inference, in order.
    public var samplesNanoseconds: [UInt64]
    /// Wall time of the whole timed loop (≥ the sum of the samples: it includes the timing itself).
    public var loopWallNanoseconds: UInt64
    /// Monotonic start and end of the timed loop (for energy).
    public var loopStart: UInt64
    public var loopEnd: UInt64
    public var resources: ResourceFigures
    /// Dequantized first output after the timed loop.
    public var scores: [Float]
    /// Profiled inferences, each operator's time (empty without profiling).
    public var profile: [[OperatorSample]]

    public init(initNanoseconds: UInt64, firstInferenceNanoseconds: UInt64, warmupNanoseconds: [UInt64],
                samplesNanoseconds: [UInt64], loopWallNanoseconds: UInt64, loopStart: UInt64, loopEnd: UInt64,
                resources: ResourceFigures, scores: [Float], profile: [[OperatorSample]] = []) {
        self.initNanoseconds = initNanoseconds
        self.firstInferenceNanoseconds = firstInferenceNanoseconds
        self.warmupNanoseconds = warmupNanoseconds
        self.samplesNanoseconds = samplesNanoseconds
        self.loopWallNanoseconds = loopWallNanoseconds
        self.loopStart = loopStart
        self.loopEnd = loopEnd
        self.resources = resources
        self.scores = scores
        self.profile = profile
    }
}

/// Progress of a timed loop, for a terminal progress line.
public struct BenchProgress: Sendable {
    /// What is running (`magpie mobilenet_v2 t1`).
    public var label: String
    public var completedRuns: Int
    /// Planned runs, or nil when the loop is time-bound.
    public var plannedRuns: Int?
    public var elapsedSeconds: Double
    /// The loop's time bound, when it has one.
    public var plannedSeconds: Double?
    /// Fraction done, 0...1.
    public var fraction: Double {
        var f = 0.0
        if let plannedRuns, plannedRuns > 0 { f = Double(completedRuns) / Double(plannedRuns) }
        if let plannedSeconds, plannedSeconds > 0 { f = max(f, elapsedSeconds / plannedSeconds) }
        return min(1, f)
    }
}

extension BenchMethod {
    /// Runs the method on an in-process target.
    /// - Parameters:
    ///   - target: what to time; `prepare()` is called here.
    ///   - label: shown in progress reports.
    ///   - progress: called about every 0.2 s during the timed loop (not per inference).
    ///   - onLoopStart / onLoopEnd: called right before the first and after the last timed inference
    ///     (the energy meter marks these).
    /// - Throws: `BenchError.target` with the target's message.
    public func measure(_ target: any BenchTarget, label: String = "",
                        progress: ((BenchProgress) -> Void)? = nil,
                        onLoopStart: (() -> Void)? = nil, onLoopEnd: (() -> Void)? = nil) throws -> Measurement {
        try validate()
        func wrap<T>(_ stage: String, _ body: () throws -> T) throws -> T {
            do { return try body() } catch let e as BenchError { throw e } catch {
                throw BenchError.target("\(label.isEmpty ? "" : label + ": ")\(stage) failed: \(error)")
            }
        }
        let t0 = MonotonicClock.now()
        try wrap("prepare") { try target.prepare() }
        let t1 = MonotonicClock.now()
        try wrap("first inference") { try target.runOnce() }
        let t2 = MonotonicClock.now()
        var warmup: [UInt64] = []
        for _ in 0..<warmupRuns {
            let s = MonotonicClock.now()
            try wrap("warm-up") { try target.runOnce() }
            warmup.append(MonotonicClock.now() - s)
        }
        if pauseSeconds > 0 { Thread.sleep(forTimeInterval: pauseSeconds) }

        let timeBound = durationSeconds ?? minimumSeconds
        let minimumRuns = durationSeconds == nil ? runs : 1
        var samples: [UInt64] = []
        samples.reserveCapacity(runs)
        let progressEvery: UInt64 = 200_000_000
        var nextProgress: UInt64 = 0
        onLoopStart?()
        let rusageStart = ResourceSnapshot.current()
        let loopStart = MonotonicClock.now()
        var now = loopStart
        nextProgress = loopStart + progressEvery
        while true {
            let s = now
            do { try target.runOnce() } catch {
                throw BenchError.target("\(label.isEmpty ? "" : label + ": ")inference \(samples.count + 1) failed: \(error)")
            }
            now = MonotonicClock.now()
            samples.append(now - s)
            if now >= nextProgress, let progress {
                progress(BenchProgress(label: label, completedRuns: samples.count,
                                       plannedRuns: durationSeconds == nil && timeBound == nil ? runs : nil,
                                       elapsedSeconds: Double(now - loopStart) / 1e9, plannedSeconds: timeBound))
                nextProgress = now + progressEvery
                now = MonotonicClock.now()
            }
            let elapsed = Double(now - loopStart) / 1e9
            if samples.count >= minimumRuns && (timeBound.map { elapsed >= $0 } ?? true) { break }
        }
        let loopEnd = MonotonicClock.now()
        let rusageEnd = ResourceSnapshot.current()
        onLoopEnd?()
        let scores = try wrap("reading the output") { try target.outputScores() }
        var profile: [[OperatorSample]] = []
        for _ in 0..<profileRuns {
            guard let ops = try wrap("profiling", { try target.profileOnce() }) else { break }
            profile.append(ops)
        }
        let wall = loopEnd - loopStart
        return Measurement(initNanoseconds: t1 - t0, firstInferenceNanoseconds: t2 - t1, warmupNanoseconds: warmup,
                           samplesNanoseconds: samples, loopWallNanoseconds: wall, loopStart: loopStart, loopEnd: loopEnd,
                           resources: ResourceFigures(from: rusageStart, to: rusageEnd, wallSeconds: Double(wall) / 1e9),
                           scores: scores, profile: profile)
    }
}
