#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Zeroed, 2 MiB-aligned memory mapped straight from the kernel, for the large buffers a prepared plan keeps for its
/// lifetime: packed weights and the activation arena. On Linux the mapping asks for transparent huge pages
/// (`madvise(MADV_HUGEPAGE)`; the kernel decides, and falls back to 4 KiB pages): one TLB entry then covers 2 MiB
/// instead of 4 KiB. A float MobileNetV2 streams about 14 MB of weights per inference, most of the 7x7 layers' and
/// the classifier's from DRAM; with 4 KiB pages each new page of weights is a TLB miss (C harness, the seven 7x7
/// layers and the classifier with the caches flushed: 2.14-2.19 → 2.10-2.11 ms).
final class LargeMemory {
    static let alignment = 2 << 20

    let base: UnsafeMutableRawPointer
    let length: Int

    /// Maps at least `bytes` (rounded up to 2 MiB); nil when the system refuses.
    init?(bytes: Int) {
        let length = (max(bytes, 1) + Self.alignment - 1) / Self.alignment * Self.alignment
        // Map one alignment more than needed, then unmap the unaligned head and the tail.
        let total = length + Self.alignment
        #if canImport(Darwin)
        let flags = MAP_PRIVATE | MAP_ANON
        #else
        let flags = MAP_PRIVATE | MAP_ANONYMOUS
        #endif
        guard let raw = mmap(nil, total, PROT_READ | PROT_WRITE, flags, -1, 0), raw != MAP_FAILED else { return nil }
        let address = Int(bitPattern: raw)
        let aligned = (address + Self.alignment - 1) / Self.alignment * Self.alignment
        let head = aligned - address, tail = total - head - length
        if head > 0 { munmap(raw, head) }
        if tail > 0 { munmap(UnsafeMutableRawPointer(bitPattern: aligned + length), tail) }
        base = UnsafeMutableRawPointer(bitPattern: aligned)!
        self.length = length
        #if os(Linux)
        _ = madvise(base, length, MADV_HUGEPAGE)
        #endif
    }

    deinit { munmap(base, length) }
}
