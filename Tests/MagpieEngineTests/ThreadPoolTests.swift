import CMagpieKernels
import Synchronization
import XCTest
@testable import MagpieEngine

final class ThreadPoolTests: XCTestCase {
    func testEveryTaskRunsExactlyOnceAcrossManyRegions() {
        let pool = ThreadPool(threadCount: 3, spinLimit: 1000)
        defer { pool.shutdown() }
        let counts = UnsafeMutablePointer<Int>.allocate(capacity: 97)
        defer { counts.deallocate() }
        for region in 0..<2000 {
            let n = region % 97 + 1
            counts.initialize(repeating: 0, count: n)
            // Disjoint writes per task: no two tasks share an index.
            pool.parallelFor(n) { counts[$0] += 1 }
            for i in 0..<n where counts[i] != 1 {
                XCTFail("region \(region): task \(i) ran \(counts[i]) times")
                return
            }
        }
    }

    func testMoreTasksThanOneRegionHolds() {
        // The pool's state word holds task indices below 2^20; larger counts run as several regions.
        let pool = ThreadPool(threadCount: 2, spinLimit: 1000)
        defer { pool.shutdown() }
        let n = (1 << 20) + 5
        let seen = UnsafeMutablePointer<UInt8>.allocate(capacity: n)
        defer { seen.deallocate() }
        seen.initialize(repeating: 0, count: n)
        pool.parallelFor(n) { seen[$0] &+= 1 }
        var wrong = 0
        for i in 0..<n where seen[i] != 1 { wrong += 1 }
        XCTAssertEqual(wrong, 0, "tasks that did not run exactly once")
    }

    func testRegionsFinishWhileAWorkerIsBusyElsewhere() {
        // A task that blocks for a while must not stop later regions from finishing in order, and every task of
        // every region still runs once.
        let pool = ThreadPool(threadCount: 2, spinLimit: 1000)
        defer { pool.shutdown() }
        let total = Atomic<Int>(0)
        for region in 0..<50 {
            pool.parallelFor(4) { task in
                if region % 10 == 0 && task == 0 { usleep(2000) }
                total.add(1, ordering: .relaxed)
            }
            XCTAssertEqual(total.load(ordering: .relaxed), (region + 1) * 4, "region \(region) returned early")
        }
    }

    func testParkedWorkersWakeUp() {
        let pool = ThreadPool(threadCount: 2, spinLimit: 1)  // park almost at once
        defer { pool.shutdown() }
        let total = Atomic<Int>(0)
        for _ in 0..<200 {
            usleep(100)
            pool.parallelFor(8) { total.add($0, ordering: .relaxed) }
        }
        XCTAssertEqual(total.load(ordering: .relaxed), 200 * 28)
    }

    func testSlotsNameTheRunningThread() {
        // Every task gets a slot below the thread count, the caller's is 0, and no two tasks that run at the same
        // time share one (kernels index per-thread scratch by it).
        let pool = ThreadPool(threadCount: 3, spinLimit: 1000)
        defer { pool.shutdown() }
        let busy = Atomic<Int>(0), clashes = Atomic<Int>(0), outOfRange = Atomic<Int>(0), ran = Atomic<Int>(0)
        let caller = pthread_self()
        let callerSlotWrong = Atomic<Int>(0)
        for region in 0..<300 {
            pool.parallelFor(region % 13 + 1) { _, slot in
                ran.add(1, ordering: .relaxed)
                guard (0..<3).contains(slot) else { outOfRange.add(1, ordering: .relaxed); return }
                if (pthread_equal(pthread_self(), caller) != 0) != (slot == 0) {
                    callerSlotWrong.add(1, ordering: .relaxed)
                }
                let bit = 1 << slot
                if busy.bitwiseOr(bit, ordering: .acquiringAndReleasing).oldValue & bit != 0 {
                    clashes.add(1, ordering: .relaxed)
                }
                for _ in 0..<200 { magpie_spin_pause() }
                busy.bitwiseAnd(~bit, ordering: .acquiringAndReleasing)
            }
        }
        XCTAssertEqual(ran.load(ordering: .relaxed), (0..<300).reduce(0) { $0 + $1 % 13 + 1 })
        XCTAssertEqual(outOfRange.load(ordering: .relaxed), 0, "slots outside 0..<3")
        XCTAssertEqual(callerSlotWrong.load(ordering: .relaxed), 0, "slot 0 is the caller's, and only the caller's")
        XCTAssertEqual(clashes.load(ordering: .relaxed), 0, "two running tasks shared a slot")
    }

    func testIdleThreadsStealTheRestOfABusyThreadsRange() {
        // Each thread starts on its own contiguous range of tasks (slot s: n*s/threads ..< n*(s+1)/threads). Here
        // the tasks of the caller's range are slow, so the workers must take them over; every task still runs
        // exactly once, and some of the caller's run on other slots.
        let threads = 4, n = 64
        let pool = ThreadPool(threadCount: threads, spinLimit: 100_000)
        defer { pool.shutdown() }
        let runs = UnsafeMutablePointer<Int>.allocate(capacity: n), slots = UnsafeMutablePointer<Int>.allocate(capacity: n)
        defer { runs.deallocate(); slots.deallocate() }
        var stolenFromCaller = 0
        for _ in 0..<20 {
            runs.initialize(repeating: 0, count: n)
            slots.initialize(repeating: -1, count: n)
            pool.parallelFor(n) { task, slot in
                if task < n / threads { usleep(200) }
                runs[task] += 1
                slots[task] = slot
            }
            for i in 0..<n where runs[i] != 1 {
                XCTFail("task \(i) ran \(runs[i]) times")
                return
            }
            stolenFromCaller += (0..<n / threads).filter { slots[$0] != 0 }.count
        }
        XCTAssertGreaterThan(stolenFromCaller, 0, "no worker took over a task of the caller's range")
    }

    func testSingleThreadPoolRunsInline() {
        let pool = ThreadPool(threadCount: 1)
        var order: [Int] = []
        pool.parallelFor(5) { order.append($0) }
        XCTAssertEqual(order, [0, 1, 2, 3, 4])
        var slots: [Int] = []
        pool.parallelFor(3) { _, slot in slots.append(slot) }
        XCTAssertEqual(slots, [0, 0, 0])
    }
}
