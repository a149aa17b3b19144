/// Builds a flatbuffer back to front, the way the format wants: children before parents, so every offset points
/// forward. Offsets returned by the builder (`FlatBufferBuilder.Offset`) count bytes from the end of the buffer.
public struct FlatBufferBuilder {
    /// A position in the finished buffer, measured from its end.
    public struct Offset: Hashable, Sendable { let fromEnd: Int }

    private var storage: [UInt8]
    private var head: Int
    private var minimumAlignment = 4
    private var tableStart = 0
    private var fields: [(slot: Int, fromEnd: Int)] = []
    private var inTable = false

    public init(capacity: Int = 1024) {
        storage = [UInt8](repeating: 0, count: max(capacity, 64))
        head = storage.count
    }

    /// Bytes written so far.
    public var size: Int { storage.count - head }

    private mutating func reserve(_ n: Int) {
        if head >= n { return }
        var newCount = storage.count * 2
        while newCount - size < n { newCount *= 2 }
        var grown = [UInt8](repeating: 0, count: newCount)
        let used = size
        grown.withUnsafeMutableBufferPointer { dst in
            storage.withUnsafeBufferPointer { src in
                (dst.baseAddress! + newCount - used).update(from: src.baseAddress! + head, count: used)
            }
        }
        storage = grown
        head = newCount - used
    }

    /// Pads with zeros so that after `additional` more bytes the size is a multiple of `alignment`.
    public mutating func align(_ alignment: Int, additional: Int = 0) {
        minimumAlignment = max(minimumAlignment, alignment)
        let pad = (alignment - (size + additional) % alignment) % alignment
        reserve(pad)
        for _ in 0..<pad { head -= 1; storage[head] = 0 }
    }

    private mutating func prepend(raw bytes: UnsafeRawBufferPointer) {
        reserve(bytes.count)
        head -= bytes.count
        storage.withUnsafeMutableBytes { dst in
            UnsafeMutableRawBufferPointer(rebasing: dst[head..<(head + bytes.count)]).copyMemory(from: bytes)
        }
    }

    private mutating func prepend<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { prepend(raw: $0) }
    }

    // MARK: Vectors and strings

    /// A string (UTF-8, zero-terminated as the format requires).
    public mutating func createString(_ s: String) -> Offset {
        let utf8 = Array(s.utf8)
        align(4, additional: utf8.count + 1)
        prepend(UInt8(0))
        utf8.withUnsafeBytes { prepend(raw: $0) }
        prepend(UInt32(utf8.count))
        return Offset(fromEnd: size)
    }

    /// A vector of scalars.
    public mutating func createVector<T: FixedWidthInteger>(_ values: [T]) -> Offset {
        let elementSize = MemoryLayout<T>.size
        align(max(4, elementSize), additional: values.count * elementSize)
        for v in values.reversed() { prepend(v) }
        align(4)
        prepend(UInt32(values.count))
        return Offset(fromEnd: size)
    }

    /// A vector of floats.
    public mutating func createVector(_ values: [Float]) -> Offset {
        createVector(values.map(\.bitPattern))
    }

    /// A byte vector whose data starts at a multiple of `alignment` in the finished buffer
    /// (TFLite keeps tensor data 16-byte aligned).
    public mutating func createBytes(_ bytes: [UInt8], alignment: Int = 16) -> Offset {
        align(alignment, additional: bytes.count)
        bytes.withUnsafeBytes { prepend(raw: $0) }
        align(4)
        prepend(UInt32(bytes.count))
        return Offset(fromEnd: size)
    }

    /// A vector of tables, strings or other vectors.
    public mutating func createVector(ofOffsets offsets: [Offset]) -> Offset {
        align(4, additional: 4 * offsets.count)
        for o in offsets.reversed() {
            align(4)
            prepend(UInt32(size + 4 - o.fromEnd))
        }
        align(4)
        prepend(UInt32(offsets.count))
        return Offset(fromEnd: size)
    }

    // MARK: Tables

    /// Starts a table; add its fields, then call `endTable()`.
    public mutating func startTable() {
        precondition(!inTable, "tables cannot nest while being built")
        inTable = true
        fields.removeAll(keepingCapacity: true)
        tableStart = size
    }

    /// Adds a scalar field unless it equals the schema default (as flatc does).
    public mutating func add<T: FixedWidthInteger>(_ slot: Int, _ value: T, default defaultValue: T) {
        guard value != defaultValue else { return }
        addAlways(slot, value)
    }

    /// Adds a scalar field even when it equals the default.
    public mutating func addAlways<T: FixedWidthInteger>(_ slot: Int, _ value: T) {
        precondition(inTable)
        align(MemoryLayout<T>.size)
        prepend(value)
        fields.append((slot, size))
    }

    /// Adds a float field unless it equals the default.
    public mutating func add(_ slot: Int, _ value: Float, default defaultValue: Float) {
        guard value != defaultValue else { return }
        addAlways(slot, value.bitPattern)
    }

    /// Adds a bool field unless it equals the default.
    public mutating func add(_ slot: Int, _ value: Bool, default defaultValue: Bool) {
        add(slot, UInt8(value ? 1 : 0), default: UInt8(defaultValue ? 1 : 0))
    }

    /// Adds an offset field (string, vector or table), if present.
    public mutating func add(_ slot: Int, _ offset: Offset?) {
        precondition(inTable)
        guard let offset else { return }
        align(4)
        prepend(UInt32(size + 4 - offset.fromEnd))
        fields.append((slot, size))
    }

    /// Finishes the table and writes its vtable.
    public mutating func endTable() -> Offset {
        precondition(inTable)
        align(4)
        prepend(Int32(0))  // soffset to the vtable, patched below
        let table = size
        let slots = (fields.map(\.slot).max() ?? -1) + 1
        var entries = [UInt16](repeating: 0, count: slots)
        for f in fields { entries[f.slot] = UInt16(table - f.fromEnd) }
        for e in entries.reversed() { prepend(e) }
        prepend(UInt16(table - tableStart))
        prepend(UInt16(4 + 2 * slots))
        let vtable = size
        let soffset = Int32(vtable - table)
        withUnsafeBytes(of: soffset.littleEndian) { bytes in
            storage.withUnsafeMutableBytes { dst in
                let at = dst.count - table
                UnsafeMutableRawBufferPointer(rebasing: dst[at..<(at + 4)]).copyMemory(from: bytes)
            }
        }
        inTable = false
        return Offset(fromEnd: table)
    }

    /// Writes the root offset and file identifier and returns the finished bytes.
    public mutating func finish(root: Offset, fileIdentifier: String? = nil) -> [UInt8] {
        let id = fileIdentifier.map { Array($0.utf8) } ?? []
        precondition(id.isEmpty || id.count == 4, "a file identifier has 4 bytes")
        align(max(minimumAlignment, 16), additional: 4 + id.count)
        id.withUnsafeBytes { prepend(raw: $0) }
        prepend(UInt32(size + 4 - root.fromEnd))
        return Array(storage[head...])
    }
}
