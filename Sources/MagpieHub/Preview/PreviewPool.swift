import Foundation
import HTTPTypes

/// A bounded pool of worker threads for "Try it" previews.
///
/// `workerCount` threads run jobs; at most `queueBound` more jobs wait. A job submitted when every worker is busy
/// and the queue is full is refused at once with `PreviewPool.Busy` (the API answers 503 with Retry-After), so a
/// burst of visitors cannot pile up unbounded work or memory. Each thread owns a `PreviewWorker`, which keeps its
/// own interpreters (an `Interpreter` is not `Sendable`); jobs receive it.
///
/// Threads start with the first job and end when the pool is released.
public final class PreviewPool: Sendable {
    /// Thrown by `run(_:)` when the workers are busy and the queue is full.
    public struct Busy: Error, Sendable {}

    /// Worker threads.
    public let workerCount: Int
    /// Jobs that may wait for a worker.
    public let queueBound: Int
    private let queue: JobQueue

    /// - Parameters:
    ///   - workers: worker threads (at least 1).
    ///   - queueBound: jobs that may wait (at least 0).
    ///   - cachedModels: interpreters each worker keeps, least recently used evicted first.
    public init(workers: Int, queueBound: Int, cachedModels: Int = 4) {
        workerCount = max(1, workers)
        self.queueBound = max(0, queueBound)
        queue = JobQueue(workers: workerCount, queueBound: self.queueBound, cachedModels: max(1, cachedModels))
    }

    deinit { queue.stop() }

    /// Runs `body` on a worker thread.
    /// - Throws: `Busy` when no worker is free and the queue is full; what `body` throws.
    public func run<T: Sendable>(_ body: @escaping @Sendable (PreviewWorker) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let accepted = queue.submit { worker in
                continuation.resume(with: Result { try body(worker) })
            }
            if !accepted { continuation.resume(throwing: Busy()) }
        }
    }

    /// Jobs waiting for a worker now (for tests and logs).
    public var waiting: Int { queue.waitingCount }
}

/// What one worker thread keeps between jobs: prepared models by blob SHA-256.
public final class PreviewWorker {
    private var entries: [(key: String, value: AnyObject)] = []
    private let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    /// The cached object for `key`, made by `make` when absent (evicting the least recently used beyond capacity).
    public func cached<T: AnyObject>(_ key: String, make: () throws -> T) rethrows -> T {
        if let i = entries.firstIndex(where: { $0.key == key }), let value = entries[i].value as? T {
            let entry = entries.remove(at: i)
            entries.append(entry)
            return value
        }
        let value = try make()
        entries.removeAll { $0.key == key }
        entries.append((key, value))
        if entries.count > capacity { entries.removeFirst(entries.count - capacity) }
        return value
    }
}

/// The queue and threads behind `PreviewPool` (threads hold this, not the pool, so releasing the pool stops them).
private final class JobQueue: @unchecked Sendable {
    typealias Job = (PreviewWorker) -> Void
    private let condition = NSCondition()
    private var jobs: [Job] = []
    /// Jobs taken by a worker and not finished.
    private var running = 0
    private var started = false
    private var stopped = false
    private let workers: Int
    private let queueBound: Int
    private let cachedModels: Int

    init(workers: Int, queueBound: Int, cachedModels: Int) {
        self.workers = workers
        self.queueBound = queueBound
        self.cachedModels = cachedModels
    }

    var waitingCount: Int {
        condition.lock()
        defer { condition.unlock() }
        return jobs.count
    }

    /// Queues a job; false when every worker is busy and `queueBound` jobs already wait.
    func submit(_ job: @escaping Job) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        if !started { startThreads() }
        // Running plus waiting jobs may not exceed one per worker plus the queue bound.
        guard !stopped, running + jobs.count < workers + queueBound else { return false }
        jobs.append(job)
        condition.signal()
        return true
    }

    func stop() {
        condition.lock()
        stopped = true
        condition.broadcast()
        condition.unlock()
    }

    /// Called with the lock held.
    private func startThreads() {
        started = true
        for i in 0..<workers {
            let thread = Thread { [self] in loop() }
            thread.name = "magpie-preview-\(i)"
            thread.stackSize = 8 << 20
            thread.start()
        }
    }

    private func loop() {
        let worker = PreviewWorker(capacity: cachedModels)
        while true {
            condition.lock()
            while jobs.isEmpty && !stopped { condition.wait() }
            if jobs.isEmpty && stopped {
                condition.unlock()
                return
            }
            let job = jobs.removeFirst()
            running += 1
            condition.unlock()
            job(worker)
            condition.lock()
            running -= 1
            condition.unlock()
        }
    }
}
