/// One tensor's need for arena memory: its size and the span of operators during which it must live.
public struct BufferRequest: Sendable, Equatable {
    public var size: Int
    /// First operator that writes or reads it (-1 for graph inputs).
    public var firstUse: Int
    /// Last operator that reads it (`Int.max` for graph outputs).
    public var lastUse: Int
    public init(size: Int, firstUse: Int, lastUse: Int) {
        self.size = size
        self.firstUse = firstUse
        self.lastUse = lastUse
    }
    func overlapsInTime(_ other: BufferRequest) -> Bool {
        firstUse <= other.lastUse && other.firstUse <= lastUse
    }
}

/// Places buffers in one arena so that buffers alive at the same time never overlap.
public protocol MemoryPlanner: Sendable {
    /// Returns an offset (a multiple of `alignment`) for each request, and the arena size.
    func plan(_ requests: [BufferRequest], alignment: Int) -> (offsets: [Int], arenaSize: Int)
}

extension MemoryPlanner {
    static func alignUp(_ x: Int, _ a: Int) -> Int { (x + a - 1) / a * a }
}

/// Every buffer gets its own space: simple and obviously correct, the largest arena.
public struct LinearMemoryPlanner: MemoryPlanner {
    public init() {}
    public func plan(_ requests: [BufferRequest], alignment: Int) -> (offsets: [Int], arenaSize: Int) {
        var offset = 0
        var offsets: [Int] = []
        for r in requests {
            offsets.append(offset)
            offset = Self.alignUp(offset + r.size, alignment)
        }
        return (offsets, offset)
    }
}

/// Greedy by size (TFLite's "greedy by size" arena idea): the largest buffers are placed first, each at the lowest
/// offset where it does not collide with a buffer alive at the same time.
///
/// Placement is quadratic in the number of buffers; above `maximumBuffers` (far more than real vision models have)
/// it falls back to linear placement so that a hostile model cannot stall preparation.
public struct GreedyMemoryPlanner: MemoryPlanner {
    public var maximumBuffers: Int
    public init(maximumBuffers: Int = 4096) { self.maximumBuffers = maximumBuffers }
    public func plan(_ requests: [BufferRequest], alignment: Int) -> (offsets: [Int], arenaSize: Int) {
        if requests.count > maximumBuffers { return LinearMemoryPlanner().plan(requests, alignment: alignment) }
        let order = requests.indices.sorted { (requests[$0].size, $1) > (requests[$1].size, $0) }
        var offsets = [Int](repeating: 0, count: requests.count)
        var placed: [Int] = []
        var arena = 0
        for i in order {
            let r = requests[i]
            let size = Self.alignUp(max(r.size, 1), alignment)
            let conflicts = placed.filter { r.overlapsInTime(requests[$0]) }
                .map { (offsets[$0], Self.alignUp(max(requests[$0].size, 1), alignment)) }
                .sorted { $0.0 < $1.0 }
            var candidate = 0
            for (start, length) in conflicts {
                if candidate + size <= start { break }
                candidate = max(candidate, start + length)
            }
            offsets[i] = candidate
            placed.append(i)
            arena = max(arena, candidate + size)
        }
        return (offsets, arena)
    }
}
