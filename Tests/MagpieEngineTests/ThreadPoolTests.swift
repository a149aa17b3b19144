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

    func testSingleThreadPoolRunsInline() {
        let pool = ThreadPool(threadCount: 1)
        var order: [Int] = []
        pool.parallelFor(5) { order.append($0) }
        XCTAssertEqual(order, [0, 1, 2, 3, 4])
    }
}
