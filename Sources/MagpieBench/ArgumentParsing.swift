import Foundation

/// Parsers for the command line's benchmark options, kept here so they are tested with the library.
public enum BenchArguments {
    /// Seconds in a duration: `250ms`, `1s`, `1.5s`, `5m`, `1h`, or a bare number of seconds.
    /// - Throws: `BenchError.invalidArgument` for anything else or a negative value.
    public static func seconds(_ text: String) throws -> Double {
        let t = text.trimmingCharacters(in: .whitespaces).lowercased()
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("min", 60), ("h", 3600)]
        for (suffix, factor) in units.sorted(by: { $0.0.count > $1.0.count }) where t.hasSuffix(suffix) {
            if let v = Double(t.dropLast(suffix.count)), v >= 0, v.isFinite { return v * factor }
            throw BenchError.invalidArgument("'\(text)' is not a duration (examples: 500ms, 1s, 5m)")
        }
        guard let v = Double(t), v >= 0, v.isFinite else {
            throw BenchError.invalidArgument("'\(text)' is not a duration (examples: 500ms, 1s, 5m)")
        }
        return v
    }

    /// A comma-separated list, also accepting repeated options: `["1,2", "4"]` → `["1", "2", "4"]`.
    public static func list(_ values: [String]) -> [String] {
        values.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// Thread counts from `1,2,4`; each at least 1.
    public static func threads(_ values: [String]) throws -> [Int] {
        try list(values).map { s in
            guard let n = Int(s), n >= 1 else { throw BenchError.invalidArgument("'\(s)' is not a thread count (1 or more)") }
            return n
        }
    }
}
