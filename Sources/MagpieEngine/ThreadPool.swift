import CMagpieKernels
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
/// **Per-thread lines.** Every thread (slot) has cache lines of its own: one with the range of tasks it has not
/// claimed yet (tagged with the region's generation) and a pointer to the region's job, one with the number of
/// tasks it has completed in the region. A region gives slot `s` the tasks `n * s / threads ..< n * (s + 1) /
/// threads` by writing that slot's range word, which is also what the slot's idle worker polls: starting a region
/// moves one line to each worker, and a thread claims its own tasks, lowest first, without touching another core's
/// memory. A thread whose range is empty steals the highest unclaimed task of the next slot that has one. The caller
/// adds up the completion counts at the end. On this project's VMs moving a line between the two vCPUs costs 60-300
/// ns; when every claim and completion went through one shared word, a region cost 0.7-1.2 us more than its tasks
/// in a harness, now 0.4-0.8 (docs/performance.md, "Threads").
///
/// A region ends when its tasks are done, not when every worker has checked in: on a busy machine a worker that
/// is descheduled between regions does not hold up the caller, who steals the tasks that worker would have run.
/// Every claim is one compare-and-swap on a word that packs the generation with the range [front, back), so a
/// worker that wakes up late can never claim a task of a region it did not see start.
///
/// Kernels number their tasks in memory order (output rows top to bottom), so with two threads each thread keeps
/// about the same half of every tensor from one operator to the next, and reads the data the previous operator
/// left in its own cache.
///
/// One `parallelFor` at a time: the pool belongs to one interpreter, which is used from one thread.
public final class ThreadPool: @unchecked Sendable {
    /// Threads that run tasks, the caller included.
    public let threadCount: Int
    /// Spin iterations before a worker parks.
    private let spinLimit: Int

    /// Spin polls between two `sched_yield` calls, minus one (a power of two minus one).
    private static let yieldEvery = 255
    /// Bits of the front and back fields of a range word; a larger `parallelFor` runs as several regions.
    private static let indexBits = 20
    private static let indexMask = (1 << indexBits) - 1
    private static let generationShift = 2 * indexBits
    /// Generations wrap at 23 bits: only equality with the previous one matters.
    private static let generationMask = (1 << 23) - 1
    /// Bytes per slot: two pairs of cache lines (the adjacent-line prefetcher fetches lines in pairs), one for the
    /// words that the caller writes and the slot's thread claims from, one for the completion count that the slot's
    /// thread writes and the caller polls.
    private static let lineBytes = 256

    /// Per slot, at `lineBytes * slot`: the range word (generation << 40 | front << 20 | back: tasks front..<back
    /// are unclaimed), then the region's job; 128 bytes on, the completion word (generation << 40 | tasks this
    /// slot completed in the region).
    private let lines: UnsafeMutableRawPointer
    /// The current region's generation; written by the caller only.
    private var generation = 0
    private let sleepers = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    private var mutex = pthread_mutex_t()
    private var condition = pthread_cond_t()
    private var workers: [pthread_t] = []

    /// Starts `threadCount - 1` worker threads (the caller is the last one).
    public init(threadCount: Int, spinLimit: Int = 200_000) {
        self.threadCount = max(1, threadCount)
        self.spinLimit = spinLimit
        lines = UnsafeMutableRawPointer.allocate(byteCount: Self.lineBytes * self.threadCount,
                                                 alignment: Self.lineBytes)
        lines.initializeMemory(as: UInt8.self, repeating: 0, count: Self.lineBytes * self.threadCount)
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&condition, nil)
        for index in 1..<self.threadCount {
            let box = Unmanaged.passRetained(WorkerStart(pool: self, slot: index))
            var thread = pthread_t()
            let rc = pthread_create(&thread, nil, { raw in
                let start = Unmanaged<WorkerStart>.fromOpaque(raw!).takeRetainedValue()
                start.pool.workerLoop(slot: start.slot)
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
        lines.deallocate()
    }

    /// Runs `body(task)` for every task in `0..<count`, spread over the pool, and waits for all of them.
    /// - Precondition: not called from inside a task.
    public func parallelFor(_ count: Int, _ body: (Int) -> Void) {
        parallelFor(count) { task, _ in body(task) }
    }

    /// Runs `body(task, slot)` for every task in `0..<count`, like `parallelFor(_:_:)`, where `slot` (in
    /// `0..<threadCount`) names the thread that runs the task: the caller is 0, and no two tasks run at the same
    /// time in one slot. Tasks that need scratch memory index it by slot, so it is per thread, not per task.
    public func parallelFor(_ count: Int, _ body: (_ task: Int, _ slot: Int) -> Void) {
        if count <= 1 || workers.isEmpty {
            for i in 0..<count { body(i, 0) }
            return
        }
        var first = 0
        while first < count {
            let n = min(count - first, Self.indexMask)
            let base = first
            region(n) { body(base + $0, $1) }
            first += n
        }
    }

    private func rangeWord(_ slot: Int) -> UnsafeMutablePointer<Int64> {
        (lines + Self.lineBytes * slot).assumingMemoryBound(to: Int64.self)
    }

    private func completionWord(_ slot: Int) -> UnsafeMutablePointer<Int64> {
        (lines + Self.lineBytes * slot + Self.lineBytes / 2).assumingMemoryBound(to: Int64.self)
    }

    /// The region's `Job` (unretained) in the slot's line, so that starting a region moves one line to each worker.
    /// A thread reads it only after a claim in that region's generation succeeded (the region is then not over and
    /// its job alive); the pointer left behind after the region is never read.
    private func jobWord(_ slot: Int) -> UnsafeMutablePointer<UnsafeRawPointer?> {
        (lines + Self.lineBytes * slot + 16).assumingMemoryBound(to: UnsafeRawPointer?.self)
    }

    private static func generation(of word: Int64) -> Int { Int(word) >> generationShift }

    /// One parallel region of `n` (< 2^20) tasks.
    ///
    /// It allocates twice: the escaping form of `body` (as the pool always did) and the `Job` box, about 20 ns each
    /// against 0.4-0.8 us per region. A region without allocation needs jobs prepared with their kernels (the box
    /// made once, reading the invoke's tensors from the kernel); Swift copies, and so retains, a closure loaded from
    /// anything but a class's `let`.
    private func region(_ n: Int, _ body: (Int, Int) -> Void) {
        withoutActuallyEscaping(body) { escapable in
            let job = Job(escapable)
            withExtendedLifetime(job) {
                let jobPointer = UnsafeRawPointer(Unmanaged.passUnretained(job).toOpaque())
                generation = (generation &+ 1) & Self.generationMask
                let tag = generation << Self.generationShift
                let slots = workers.count + 1
                // The caller's range first: a worker that sees its own range of this region may steal from it.
                // Plain release stores, so that the caller does not wait for the workers' lines to come over.
                for slot in 0..<slots {
                    let front = n * slot / slots, back = n * (slot + 1) / slots
                    jobWord(slot).pointee = jobPointer
                    magpie_atomic_store_release(rangeWord(slot), Int64(tag | front << Self.indexBits | back))
                }
                if sleepers.load(ordering: .relaxed) > 0 { wakeWorkers() }
                let mine = drain(slot: 0, generation: generation)
                // A worker that was about to park when the region started either saw its range or is counted in
                // `sleepers` now (its increment and this load are on opposite sides of the fence from the range).
                magpie_atomic_fence_seq()
                if sleepers.load(ordering: .sequentiallyConsistent) > 0 { wakeWorkers() }
                // Yield now and then: on an oversubscribed machine a worker running the last task may need this
                // core. Each poll pauses first, so 256 polls take several microseconds (without the pause they took
                // about one, and the yields cost 4% of a 2-thread MobileNetV2 run in system calls).
                var spins = 0
                while true {
                    var completed = mine
                    for slot in 1..<slots {
                        let word = magpie_atomic_load_acquire(completionWord(slot))
                        if Self.generation(of: word) == generation { completed += Int(word) & Self.indexMask }
                    }
                    if completed >= n { break }
                    magpie_spin_pause()
                    spins &+= 1
                    if spins & Self.yieldEvery == 0 { sched_yield() }
                }
            }
        }
    }

    private func wakeWorkers() {
        pthread_mutex_lock(&mutex)
        pthread_cond_broadcast(&condition)
        pthread_mutex_unlock(&mutex)
    }

    /// Runs tasks of region `generation` until none is unclaimed: this slot's own range lowest first, then other
    /// slots' tasks highest first. Returns how many tasks it ran; a worker also publishes that count after each
    /// task in its completion word.
    private func drain(slot: Int, generation: Int) -> Int {
        var completed = 0
        let slots = workers.count + 1
        for step in 0..<slots {
            let victim = (slot + step) % slots
            let word = rangeWord(victim)
            let own = step == 0
            var current = magpie_atomic_load_acquire(word)
            while Self.generation(of: current) == generation {
                let front = (Int(current) >> Self.indexBits) & Self.indexMask, back = Int(current) & Self.indexMask
                if front >= back { break }
                let task = own ? front : back - 1
                if magpie_atomic_cas(word, &current, own ? current + (1 << Self.indexBits) : current - 1) != 0 {
                    // The claim succeeded in this generation, so the region is not over and the slot's job word
                    // still holds its job.
                    Self.run(jobWord(slot).pointee!, task, slot)
                    completed += 1
                    if slot != 0 {
                        magpie_atomic_store_release(completionWord(slot),
                                                    Int64(generation << Self.generationShift | completed))
                    }
                    current = magpie_atomic_load_acquire(word)
                }
            }
        }
        return completed
    }

    /// Runs one claimed task through the region's `Job`, borrowed: no reference count changes, which would be
    /// atomic writes to memory the caller's thread owns.
    @inline(__always)
    private static func run(_ job: UnsafeRawPointer, _ task: Int, _ slot: Int) {
        Unmanaged<Job>.fromOpaque(job)._withUnsafeGuaranteedRef { $0.body(task, slot) }
    }

    private func workerLoop(slot: Int) {
        var seen = 0
        let word = rangeWord(slot)
        var current = magpie_atomic_load_acquire(word)
        while true {
            var spins = 0
            // Poll with a compare-and-swap that writes back the value it expects: the line then arrives owned, and
            // the first claim of a new region does not fetch it a second time. (The word changes only when a region
            // starts: after this worker's own drain its range is empty, so nobody steals from it.)
            while Self.generation(of: current) == seen {
                if stopping.load(ordering: .relaxed) { return }
                magpie_spin_pause()
                spins += 1
                if spins & Self.yieldEvery == 0 { sched_yield() }
                if spins >= spinLimit {
                    pthread_mutex_lock(&mutex)
                    sleepers.add(1, ordering: .sequentiallyConsistent)
                    while Self.generation(of: magpie_atomic_load_seq(word)) == seen
                        && !stopping.load(ordering: .relaxed) {
                        pthread_cond_wait(&condition, &mutex)
                    }
                    sleepers.subtract(1, ordering: .sequentiallyConsistent)
                    pthread_mutex_unlock(&mutex)
                    spins = 0
                }
                _ = magpie_atomic_cas(word, &current, current)
            }
            if stopping.load(ordering: .relaxed) { return }
            seen = Self.generation(of: current)
            _ = drain(slot: slot, generation: seen)
            current = magpie_atomic_load_acquire(word)
        }
    }
}

/// A region's body, boxed so that threads can call it through an unretained pointer.
private final class Job {
    let body: (Int, Int) -> Void
    init(_ body: @escaping (Int, Int) -> Void) { self.body = body }
}

/// What a new worker thread needs: its pool and its slot.
private final class WorkerStart {
    let pool: ThreadPool
    let slot: Int
    init(pool: ThreadPool, slot: Int) { self.pool = pool; self.slot = slot }
}

/// How a blocked GEMM is cut into pool tasks: `rowTasks` ranges of row blocks times `columnTasks` ranges of column
/// groups (a group is the width of one register or tile block). About four tasks per thread, over the row blocks
/// first (each task then reads a range of rows the previous operator wrote in the same order) and over the column
/// groups only when the row blocks are fewer. Used by the VNNI and AMX quantized GEMMs (whose C side reads the
/// ranges with `mq_task_range`) and the bfloat16 AMX float GEMM.
struct TaskGrid {
    let rowBlocks: Int, columnGroups: Int
    let rowTasks: Int, columnTasks: Int
    var count: Int { rowTasks * columnTasks }

    init(rowBlocks: Int, columnGroups: Int, threads: Int) {
        self.rowBlocks = rowBlocks; self.columnGroups = columnGroups
        var rows = 1, columns = 1
        if threads > 1 {
            let wanted = threads * 4
            rows = min(rowBlocks, wanted)
            if rows < wanted { columns = min(columnGroups, max(1, wanted / rows)) }
        }
        rowTasks = rows; columnTasks = columns
    }

    /// Row blocks and column groups of `task` (task = row task * columnTasks + column task).
    func ranges(_ task: Int) -> (rowBlocks: Range<Int>, columnGroups: Range<Int>) {
        let r = task / columnTasks, c = task % columnTasks
        return (rowBlocks * r / rowTasks ..< rowBlocks * (r + 1) / rowTasks,
                columnGroups * c / columnTasks ..< columnGroups * (c + 1) / columnTasks)
    }
}
