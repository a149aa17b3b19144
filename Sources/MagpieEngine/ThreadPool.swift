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
/// A region ends when its tasks are done, not when every worker has checked in: on a busy machine a worker that
/// is descheduled between regions does not hold up the caller, who simply runs the tasks that worker would have
/// taken. Tasks are claimed with one compare-and-swap on a word that packs the region's generation and the
/// unclaimed range [front, back), so a worker that wakes up late can never claim a task of a region it did not
/// see start.
///
/// The caller claims from the front and every other worker from the back. Kernels number their tasks in memory
/// order (output rows top to bottom), so with two threads each thread keeps about the same half of every tensor
/// from one operator to the next, and reads the data the previous operator left in its own cache.
///
/// One `parallelFor` at a time: the pool belongs to one interpreter, which is used from one thread.
public final class ThreadPool: @unchecked Sendable {
    /// Threads that run tasks, the caller included.
    public let threadCount: Int
    /// Spin iterations before a worker parks.
    private let spinLimit: Int

    /// Spin polls between two `sched_yield` calls, minus one (a power of two minus one).
    private static let yieldEvery = 255
    /// Bits of the front and back fields of `state`; a larger `parallelFor` runs as several regions.
    private static let indexBits = 20
    private static let indexMask = (1 << indexBits) - 1
    private static let generationShift = 2 * indexBits

    /// generation << 40 | front << 20 | back: tasks front..<back are unclaimed.
    private let state = Atomic<Int>(0)
    /// Tasks of the current region that have finished.
    private let completed = Atomic<Int>(0)
    private let sleepers = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    /// The current region's body (task, thread slot); written only while no task of any region is claimed and
    /// unfinished.
    private var job: ((Int, Int) -> Void)?
    private var mutex = pthread_mutex_t()
    private var condition = pthread_cond_t()
    private var workers: [pthread_t] = []

    /// Starts `threadCount - 1` worker threads (the caller is the last one).
    public init(threadCount: Int, spinLimit: Int = 200_000) {
        self.threadCount = max(1, threadCount)
        self.spinLimit = spinLimit
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&condition, nil)
        for index in 1..<self.threadCount {
            // Odd workers take tasks from the back, even ones (like the caller) from the front.
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

    /// One parallel region of `n` (< 2^20) tasks.
    private func region(_ n: Int, _ body: (Int, Int) -> Void) {
        withoutActuallyEscaping(body) { escapable in
            job = escapable
            completed.store(0, ordering: .relaxed)
            // 23 bits of generation, wrapping: only equality with the previous one matters.
            let generation = ((state.load(ordering: .relaxed) >> Self.generationShift) &+ 1) & ((1 << 23) - 1)
            // Publishes the job: a worker's successful claim (acquiring) sees it. Sequentially consistent, so that
            // a worker about to park either sees the new generation or is counted in `sleepers` below.
            state.store((generation << Self.generationShift) | n, ordering: .sequentiallyConsistent)
            if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
                pthread_mutex_lock(&mutex)
                pthread_cond_broadcast(&condition)
                pthread_mutex_unlock(&mutex)
            }
            drain(slot: 0)
            // Yield now and then: on an oversubscribed machine a worker running the last task may need this core.
            // Each poll pauses first, so 256 polls take several microseconds (without the pause they took about
            // one, and the yields cost 4% of a 2-thread MobileNetV2 run in system calls).
            var spins = 0
            while completed.load(ordering: .acquiring) < n {
                magpie_spin_pause()
                spins &+= 1
                if spins & Self.yieldEvery == 0 { sched_yield() }
            }
            job = nil
        }
    }

    /// Claims and runs tasks of the current region until none is left: lowest first in even slots (the caller's
    /// is 0), highest first in odd ones.
    private func drain(slot: Int) {
        let fromBack = slot % 2 == 1
        var current = state.load(ordering: .acquiring)
        while true {
            let front = (current >> Self.indexBits) & Self.indexMask, back = current & Self.indexMask
            if front >= back { return }
            let task = fromBack ? back - 1 : front
            let desired = fromBack ? current - 1 : current + (1 << Self.indexBits)
            let (claimed, seen) = state.compareExchange(expected: current, desired: desired,
                                                       ordering: .acquiringAndReleasing)
            if claimed {
                run(task, slot)
                completed.add(1, ordering: .releasing)
                current = state.load(ordering: .acquiring)
            } else {
                current = seen
            }
        }
    }

    /// Runs one claimed task. A separate function, so that the worker's reference to the job ends before the task
    /// counts as completed (the caller then clears `job`, and `withoutActuallyEscaping` checks nothing kept it).
    @inline(never)
    private func run(_ task: Int, _ slot: Int) {
        job!(task, slot)
    }

    private func generation(_ word: Int) -> Int { word >> Self.generationShift }

    private func workerLoop(slot: Int) {
        var seen = 0
        while true {
            var spins = 0
            while generation(state.load(ordering: .acquiring)) == seen {
                if stopping.load(ordering: .relaxed) { return }
                magpie_spin_pause()
                spins += 1
                if spins & Self.yieldEvery == 0 { sched_yield() }
                if spins >= spinLimit {
                    pthread_mutex_lock(&mutex)
                    sleepers.add(1, ordering: .sequentiallyConsistent)
                    while generation(state.load(ordering: .sequentiallyConsistent)) == seen
                        && !stopping.load(ordering: .relaxed) {
                        pthread_cond_wait(&condition, &mutex)
                    }
                    sleepers.subtract(1, ordering: .sequentiallyConsistent)
                    pthread_mutex_unlock(&mutex)
                    spins = 0
                }
            }
            if stopping.load(ordering: .relaxed) { return }
            seen = generation(state.load(ordering: .acquiring))
            drain(slot: slot)
        }
    }
}

/// What a new worker thread needs: its pool and its slot (which also says which end of each region it claims from).
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
