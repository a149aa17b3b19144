import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The monotonic clock every Magpie timing uses (`CLOCK_MONOTONIC`, nanoseconds). Python's `time.monotonic_ns()`
/// reads the same clock on Linux, so timestamps from the peer runner line up with Magpie's.
public enum MonotonicClock {
    /// Nanoseconds since an arbitrary fixed point.
    @inline(__always)
    public static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }
}

/// CPU time and memory of this process, from `getrusage(RUSAGE_SELF)`.
public struct ResourceSnapshot: Sendable, Equatable {
    /// User-mode CPU seconds, all threads.
    public var userSeconds: Double
    /// Kernel-mode CPU seconds, all threads.
    public var systemSeconds: Double
    /// Peak resident set size in bytes (`ru_maxrss`: kilobytes on Linux, bytes on macOS).
    public var peakRSSBytes: UInt64

    /// Reads this process's usage now.
    public static func current() -> ResourceSnapshot { read(children: false) }

    /// Usage of terminated children that were waited for (the peer runner).
    public static func children() -> ResourceSnapshot { read(children: true) }

    private static func read(children: Bool) -> ResourceSnapshot {
        var u = rusage()
        #if canImport(Glibc)
        getrusage(children ? RUSAGE_CHILDREN.rawValue : RUSAGE_SELF.rawValue, &u)
        let rssScale: UInt64 = 1024
        #else
        getrusage(children ? RUSAGE_CHILDREN : RUSAGE_SELF, &u)
        let rssScale: UInt64 = 1
        #endif
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return ResourceSnapshot(userSeconds: seconds(u.ru_utime), systemSeconds: seconds(u.ru_stime),
                                peakRSSBytes: UInt64(max(0, u.ru_maxrss)) * rssScale)
    }
}

/// CPU time spent during a measurement and the process's peak memory.
public struct ResourceFigures: Codable, Sendable, Equatable {
    /// User CPU seconds during the timed loop (all threads).
    public var userCPUSeconds: Double
    /// System CPU seconds during the timed loop.
    public var systemCPUSeconds: Double
    /// (user + system) / loop wall time: about 1 for one busy thread, up to the thread count.
    public var cpuUtilization: Double
    /// Peak resident set size of the process that ran the model, bytes.
    public var peakRSSBytes: UInt64

    public init(userCPUSeconds: Double, systemCPUSeconds: Double, wallSeconds: Double, peakRSSBytes: UInt64) {
        self.userCPUSeconds = userCPUSeconds
        self.systemCPUSeconds = systemCPUSeconds
        cpuUtilization = wallSeconds > 0 ? (userCPUSeconds + systemCPUSeconds) / wallSeconds : 0
        self.peakRSSBytes = peakRSSBytes
    }

    /// The CPU used between two snapshots, with the later snapshot's peak RSS.
    public init(from start: ResourceSnapshot, to end: ResourceSnapshot, wallSeconds: Double) {
        self.init(userCPUSeconds: end.userSeconds - start.userSeconds, systemCPUSeconds: end.systemSeconds - start.systemSeconds,
                  wallSeconds: wallSeconds, peakRSSBytes: end.peakRSSBytes)
    }
}
