import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a result was measured on: enough to tell two machines, two builds or two configurations apart.
///
/// Every field is read, never guessed; what cannot be read is nil (`"unknown"` in the terminal).
public struct MachineFingerprint: Codable, Sendable, Equatable {
    /// A short name for charts and tables: `--machine-name`, else the host name.
    public var name: String
    public var hostname: String
    /// `model name` (x86) or `Hardware`/`CPU part` (ARM) from /proc/cpuinfo, or `machdep.cpu.brand_string`.
    public var cpuModel: String?
    /// CPUs the process may run on.
    public var logicalCores: Int
    /// The ISA features that matter to kernels, found in /proc/cpuinfo `flags`/`Features`
    /// (avx2, avx512f, avx512_vnni, avx512_bf16, amx_tile, fma, f16c, neon/asimd, asimddp, sve, i8mm, bf16...).
    public var isaFeatures: [String]
    public var memoryBytes: UInt64?
    /// `uname -s` and `-r`, `-m`.
    public var os: String
    public var kernel: String
    public var architecture: String
    /// Linux `scaling_governor` of cpu0, when readable.
    public var cpuGovernor: String?
    /// The compiler that built this binary, from `#if compiler(>=...)` checks: a lower bound such as ">=6.3".
    public var swiftCompiler: String
    /// Magpie's version (`MagpieBuild.version`).
    public var magpieVersion: String
    /// The commit of the source checkout, read with `git rev-parse HEAD` at run time (see `MagpieBuild`).
    public var gitCommit: String?
    /// True when the checkout had uncommitted changes to tracked files.
    public var gitDirty: Bool?
    /// True when this binary is an optimized (release) build; a debug build's timings are not representative.
    public var optimizedBuild: Bool

    public init(name: String, hostname: String, cpuModel: String?, logicalCores: Int, isaFeatures: [String],
                memoryBytes: UInt64?, os: String, kernel: String, architecture: String, cpuGovernor: String?,
                swiftCompiler: String, magpieVersion: String, gitCommit: String?, gitDirty: Bool?, optimizedBuild: Bool) {
        self.name = name
        self.hostname = hostname
        self.cpuModel = cpuModel
        self.logicalCores = logicalCores
        self.isaFeatures = isaFeatures
        self.memoryBytes = memoryBytes
        self.os = os
        self.kernel = kernel
        self.architecture = architecture
        self.cpuGovernor = cpuGovernor
        self.swiftCompiler = swiftCompiler
        self.magpieVersion = magpieVersion
        self.gitCommit = gitCommit
        self.gitDirty = gitDirty
        self.optimizedBuild = optimizedBuild
    }

    /// The ISA flags reported when present, in this order.
    public static let interestingFeatures = [
        "sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx_vnni",
        "avx512_bf16", "avx512_fp16", "amx_tile", "amx_int8", "amx_bf16",
        "neon", "asimd", "asimdhp", "asimddp", "i8mm", "bf16", "sve", "sve2", "sme",
    ]

    /// Reads this machine's fingerprint.
    /// - Parameter name: the machine's display name; nil uses the host name.
    public static func current(name: String? = nil) -> MachineFingerprint {
        let u = Uname.current
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let parsed = parseCPUInfo(cpuinfo)
        let host = ProcessInfo.processInfo.hostName
        var model = parsed.model
        #if canImport(Darwin)
        if model == nil { model = sysctlString("machdep.cpu.brand_string") }
        #endif
        let governor = (try? String(contentsOfFile: "/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let git = MagpieBuild.gitState()
        return MachineFingerprint(
            name: name ?? host, hostname: host, cpuModel: model,
            logicalCores: ProcessInfo.processInfo.activeProcessorCount,
            isaFeatures: parsed.features, memoryBytes: ProcessInfo.processInfo.physicalMemory,
            os: u.sysname, kernel: u.release, architecture: u.machine, cpuGovernor: governor,
            swiftCompiler: MagpieBuild.swiftCompiler, magpieVersion: MagpieBuild.version,
            gitCommit: git?.commit, gitDirty: git?.dirty, optimizedBuild: MagpieBuild.isOptimized)
    }

    /// The CPU model and the interesting ISA features in /proc/cpuinfo text.
    public static func parseCPUInfo(_ text: String) -> (model: String?, features: [String]) {
        var model: String?
        var flags = Set<String>()
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = line[..<colon].trimmingCharacters(in: .whitespaces)
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            switch key {
            case "model name", "Model", "Hardware", "cpu model":
                if model == nil, !value.isEmpty { model = value }
            case "flags", "Features":
                for f in value.split(separator: " ") { flags.insert(String(f)) }
            default:
                break
            }
        }
        return (model, interestingFeatures.filter(flags.contains))
    }

    /// One line for terminals: `vm: AMD EPYC, 2 cores, avx2 avx512f..., 23.4 GiB, Linux 6.1 x86_64, Swift >=6.3`.
    public var summary: String {
        var parts = ["\(name): \(cpuModel ?? "unknown CPU")", "\(logicalCores) cores"]
        if !isaFeatures.isEmpty { parts.append(isaFeatures.joined(separator: " ")) }
        if let memoryBytes { parts.append(String(format: "%.1f GiB", Double(memoryBytes) / 1_073_741_824)) }
        parts.append("\(os) \(kernel) \(architecture)")
        if let cpuGovernor { parts.append("governor \(cpuGovernor)") }
        parts.append("Swift \(swiftCompiler)")
        parts.append("Magpie \(magpieVersion) \(gitCommit.map { String($0.prefix(12)) + (gitDirty == true ? "+dirty" : "") } ?? "commit unknown")")
        if !optimizedBuild { parts.append("DEBUG BUILD") }
        return parts.joined(separator: ", ")
    }
}

/// `uname(2)`.
struct Uname {
    var sysname: String, release: String, machine: String

    static var current: Uname {
        var u = utsname()
        guard uname(&u) == 0 else { return Uname(sysname: "unknown", release: "unknown", machine: "unknown") }
        func field<T>(_ value: T) -> String {
            withUnsafeBytes(of: value) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
        }
        return Uname(sysname: field(u.sysname), release: field(u.release), machine: field(u.machine))
    }
}

#if canImport(Darwin)
private func sysctlString(_ name: String) -> String? {
    var size = 0
    guard sysctlbyname(name, nil, &size, nil, 0) == 0, size > 0 else { return nil }
    var bytes = [UInt8](repeating: 0, count: size)
    guard sysctlbyname(name, &bytes, &size, nil, 0) == 0 else { return nil }
    return String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
}
#endif

/// Facts about this build of Magpie.
///
/// **Commit**: SwiftPM has no portable way to stamp a build with its commit without a build plugin that shells out to
/// git (which the plugin sandbox forbids on macOS). Magpie instead asks git at run time, in the source checkout that
/// the binary was compiled from: the package root is found from `#filePath` (the absolute path of this source file,
/// fixed at compile time), and `git rev-parse HEAD` plus `git status --porcelain --untracked-files=no` run there.
/// When the binary runs on another machine, or the checkout has moved, the commit is nil ("unknown"), never a guess.
/// The one inaccuracy: commits made after the build are reported as the build's; `gitDirty` and the commit together
/// identify the sources at the time of the run, which is what a benchmark records.
public enum MagpieBuild {
    /// Magpie's version.
    public static let version = "0.1.0"

    /// A lower bound on the compiler version, from compile-time checks.
    public static let swiftCompiler: String = {
        #if compiler(>=6.5)
        return ">=6.5"
        #elseif compiler(>=6.4)
        return ">=6.4"
        #elseif compiler(>=6.3)
        return ">=6.3"
        #elseif compiler(>=6.2)
        return ">=6.2"
        #elseif compiler(>=6.1)
        return ">=6.1"
        #else
        return ">=6.0"
        #endif
    }()

    /// True in builds compiled with optimization (`-c release`), where assertions are off.
    public static let isOptimized: Bool = {
        var optimized = true
        assert({ optimized = false; return true }())
        return optimized
    }()

    /// The package root this file was compiled from, if it still exists.
    public static var sourceRoot: URL? {
        var url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        for _ in 0..<4 {
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
            url = url.deletingLastPathComponent()
        }
        return nil
    }

    /// The commit and dirty state of the source checkout, or nil when git or the checkout is not there.
    public static func gitState() -> (commit: String, dirty: Bool)? {
        guard let root = sourceRoot,
              let head = runTool(["git", "-C", root.path, "rev-parse", "HEAD"]),
              head.count == 40 || head.count == 64 else { return nil }
        let status = runTool(["git", "-C", root.path, "status", "--porcelain", "--untracked-files=no"])
        return (head, !(status ?? "").isEmpty)
    }
}

/// Runs a tool found through PATH and returns its trimmed standard output, or nil when it fails.
func runTool(_ arguments: [String]) -> String? {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = arguments
    let out = Pipe()
    p.standardOutput = out
    p.standardError = FileHandle.nullDevice
    do { try p.run() } catch { return nil }
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    guard p.terminationStatus == 0 else { return nil }
    return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
}
