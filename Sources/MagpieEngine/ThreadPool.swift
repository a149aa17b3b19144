import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A fork-join pool for kernels: `parallelFor(n) { task in ... }` runs tasks 0..<n on the pool's threads and the
/// calling thread, and returns when all are done.
///
/// Between parallel regions the workers spin for a short while (MobileNetV2 runs ~65 operators a few microseconds
/// apart, and waking a parked thread costs more than that), then park on a condition variable so an idle
/// interpreter costs no CPU. Only the pool knows threads: kernels split work into tasks and receive a task index.
///
/// One `parallelFor` at a time: the pool belongs to one interpreter, which is used from one thread.
public final class ThreadPool: @unchecked Sendable {
    /// Threads that run tasks, the caller included.
    public let threadCount: Int
    /// Spin iterations before a worker parks.
    private let spinLimit: Int

    private let generation = Atomic<Int>(0)
    private let nextTask = Atomic<Int>(0)
    private let finishedWorkers = Atomic<Int>(0)
    private let sleepers = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    private var taskCount = 0
    private var job: ((Int) -> Void)?
    private var mutex = pthread_mutex_t()
    private var condition = pthread_cond_t()
    private var workers: [pthread_t] = []

    /// Starts `threadCount - 1` worker threads (the caller is the last one).
    public init(threadCount: Int, spinLimit: Int = 200_000) {
        self.threadCount = max(1, threadCount)
        self.spinLimit = spinLimit
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&condition, nil)
        for _ in 1..<self.threadCount {
            let box = Unmanaged.passRetained(self)
            var thread = pthread_t()
            let rc = pthread_create(&thread, nil, { raw in
                let pool = Unmanaged<ThreadPool>.fromOpaque(raw!).takeRetainedValue()
                pool.workerLoop()
                return nil
            }, box.toOpaque())
            if rc == 0 { workers.append(thread) } else { box.release() }
        }
    }

    /// Stops the workers. The pool cannot be used afterwards.
    public func shutdown() {
        guard !stopping.exchange(true, ordering: .sequentiallyConsistent) else { return }
        pthread_mutex_lock(&mutex)
        pthread_cond_broadcast(&condition)
        pthread_mutex_unlock(&mutex)
        for t in workers { pthread_join(t, nil) }
        workers.removeAll()
    }

    deinit {
        pthread_cond_destroy(&condition)
        pthread_mutex_destroy(&mutex)
    }

    /// Runs `body(task)` for every task in `0..<count`, spread over the pool, and waits for all of them.
    /// - Precondition: not called from inside a task.
    public func parallelFor(_ count: Int, _ body: (Int) -> Void) {
        if count <= 1 || workers.isEmpty {
            for i in 0..<count { body(i) }
            return
        }
        withoutActuallyEscaping(body) { escapable in
            job = escapable
            taskCount = count
            nextTask.store(0, ordering: .relaxed)
            finishedWorkers.store(0, ordering: .relaxed)
            generation.add(1, ordering: .sequentiallyConsistent)
            if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
                pthread_mutex_lock(&mutex)
                pthread_cond_broadcast(&condition)
                pthread_mutex_unlock(&mutex)
            }
            runTasks()
            // Yield now and then: on an oversubscribed machine the worker we wait for may need this core.
            var spins = 0
            while finishedWorkers.load(ordering: .acquiring) < workers.count {
                spins &+= 1
                if spins & 255 == 0 { sched_yield() }
            }
            job = nil
        }
    }

    private func runTasks() {
        let body = job!
        let n = taskCount
        while true {
            let i = nextTask.add(1, ordering: .relaxed).oldValue
            if i >= n { break }
            body(i)
        }
    }

    private func workerLoop() {
        // Every worker starts from generation 0, even if it starts after the first region began: the caller cannot
        // finish a region (and so cannot advance the generation again) until every worker has run it.
        var seen = 0
        while true {
            var spins = 0
            while generation.load(ordering: .acquiring) == seen {
                if stopping.load(ordering: .relaxed) { return }
                spins += 1
                if spins & 255 == 0 { sched_yield() }
                if spins >= spinLimit {
                    pthread_mutex_lock(&mutex)
                    sleepers.add(1, ordering: .sequentiallyConsistent)
                    while generation.load(ordering: .sequentiallyConsistent) == seen && !stopping.load(ordering: .relaxed) {
                        pthread_cond_wait(&condition, &mutex)
                    }
                    sleepers.subtract(1, ordering: .sequentiallyConsistent)
                    pthread_mutex_unlock(&mutex)
                    spins = 0
                }
            }
            if stopping.load(ordering: .relaxed) { return }
            seen = generation.load(ordering: .acquiring)
            runTasks()
            finishedWorkers.add(1, ordering: .releasing)
        }
    }
}
