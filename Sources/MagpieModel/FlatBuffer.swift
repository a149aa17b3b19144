/// A bounds-checked reader for one flatbuffer inside a byte range.
///
/// Every read validates its offset and length against `range` and throws `ModelError` instead of trapping, so a
/// truncated or hostile file can never cause an out-of-bounds read. Nothing is copied: values are read in place.
public struct FlatBufferReader: @unchecked Sendable {
    /// The bytes the flatbuffer lives in (the whole file for a model; kept alive by `owner`).
    public let bytes: UnsafeRawBufferPointer
    /// The range of `bytes` holding this flatbuffer; offsets are relative to `bytes`.
    public let range: Range<Int>
    /// Keeps `bytes` alive.
    public let owner: AnyObject?

    public init(bytes: UnsafeRawBufferPointer, range: Range<Int>, owner: AnyObject?) {
        self.bytes = bytes
        self.range = range
        self.owner = owner
    }

    /// Checks that `count` bytes starting at `position` lie inside the buffer.
    @inline(__always)
    func check(_ position: Int, _ count: Int, _ what: @autoclosure () -> String) throws {
        guard position >= range.lowerBound, count >= 0, position <= range.upperBound - count else {
            throw ModelError.truncated("\(what()) at offset \(position) (+\(count)) runs outside 0..<\(range.upperBound)")
        }
    }

    @inline(__always)
    func load<T: FixedWidthInteger>(_: T.Type, at position: Int, _ what: @autoclosure () -> String) throws -> T {
        try check(position, MemoryLayout<T>.size, what())
        return T(littleEndian: bytes.loadUnaligned(fromByteOffset: position, as: T.self))
    }

    /// The 4-character file identifier, if the buffer is large enough to have one.
    public func fileIdentifier() -> String? {
        guard range.count >= 8 else { return nil }
        let start = range.lowerBound + 4
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<start + 4]), as: UTF8.self)
    }

    /// The root table.
    public func root() throws -> FlatTable {
        guard range.count >= 8 else { throw ModelError.truncated("flatbuffer of \(range.count) bytes has no root") }
        let offset = try load(UInt32.self, at: range.lowerBound, "root offset")
        return try table(at: range.lowerBound + Int(offset), "root table")
    }

    /// The table that starts at `position`.
    func table(at position: Int, _ what: @autoclosure () -> String) throws -> FlatTable {
        let soffset = try load(Int32.self, at: position, what())
        let vtable = position - Int(soffset)
        let vtableLength = Int(try load(UInt16.self, at: vtable, "\(what()) vtable"))
        guard vtableLength >= 4, vtableLength % 2 == 0 else {
            throw ModelError.malformed("\(what()) has a vtable of \(vtableLength) bytes")
        }
        try check(vtable, vtableLength, "\(what()) vtable")
        let tableLength = Int(try load(UInt16.self, at: vtable + 2, "\(what()) vtable"))
        guard tableLength >= 4 else { throw ModelError.malformed("\(what()) is \(tableLength) bytes long") }
        try check(position, tableLength, what())
        return FlatTable(reader: self, position: position, vtable: vtable, vtableLength: vtableLength,
                         tableLength: tableLength)
    }
}

/// One flatbuffer table. Field accessors take the field's slot number (its order in the schema, from 0).
public struct FlatTable: @unchecked Sendable {
    public let reader: FlatBufferReader
    let position: Int
    let vtable: Int
    let vtableLength: Int
    let tableLength: Int

    /// The absolute position of field `slot`, or nil when the field is absent.
    @inline(__always)
    func fieldPosition(_ slot: Int, size: Int) throws -> Int? {
        let entry = 4 + 2 * slot
        guard entry + 2 <= vtableLength else { return nil }
        let offset = Int(try reader.load(UInt16.self, at: vtable + entry, "vtable entry"))
        guard offset != 0 else { return nil }
        guard offset + size <= tableLength else {
            throw ModelError.malformed("field \(slot) at +\(offset) lies outside its \(tableLength)-byte table")
        }
        return position + offset
    }

    /// Whether field `slot` is present.
    public func has(_ slot: Int) throws -> Bool { try fieldPosition(slot, size: 1) != nil }

    /// A scalar field, or `defaultValue` when absent.
    public func scalar<T: FixedWidthInteger>(_ slot: Int, _ defaultValue: T) throws -> T {
        guard let p = try fieldPosition(slot, size: MemoryLayout<T>.size) else { return defaultValue }
        return try reader.load(T.self, at: p, "field \(slot)")
    }

    /// A `float` field, or `defaultValue` when absent.
    public func float(_ slot: Int, _ defaultValue: Float) throws -> Float {
        guard let p = try fieldPosition(slot, size: 4) else { return defaultValue }
        return Float(bitPattern: try reader.load(UInt32.self, at: p, "field \(slot)"))
    }

    /// A `bool` field, or `defaultValue` when absent.
    public func bool(_ slot: Int, _ defaultValue: Bool) throws -> Bool {
        try scalar(slot, UInt8(defaultValue ? 1 : 0)) != 0
    }

    /// Follows the uoffset stored in field `slot`.
    func target(_ slot: Int) throws -> Int? {
        guard let p = try fieldPosition(slot, size: 4) else { return nil }
        let offset = try reader.load(UInt32.self, at: p, "offset field \(slot)")
        guard offset != 0 else { throw ModelError.malformed("zero offset in field \(slot)") }
        return p + Int(offset)
    }

    /// A sub-table field, or nil when absent.
    public func table(_ slot: Int) throws -> FlatTable? {
        guard let t = try target(slot) else { return nil }
        return try reader.table(at: t, "table field \(slot)")
    }

    /// A string field, or nil when absent. Invalid UTF-8 is an error.
    public func string(_ slot: Int) throws -> String? {
        guard let v = try vector(slot, elementSize: 1) else { return nil }
        let raw = UnsafeRawBufferPointer(rebasing: reader.bytes[v.start..<v.start + v.count])
        guard let s = String(validating: raw, as: UTF8.self) else {
            throw ModelError.malformed("string field \(slot) is not valid UTF-8")
        }
        return s
    }

    /// The bounds of a vector field: the position of element 0 and the element count.
    public func vector(_ slot: Int, elementSize: Int) throws -> FlatVector? {
        guard let t = try target(slot) else { return nil }
        let count = Int(try reader.load(UInt32.self, at: t, "vector length"))
        let (bytes, overflow) = count.multipliedReportingOverflow(by: elementSize)
        guard !overflow else { throw ModelError.malformed("vector of \(count) elements overflows") }
        try reader.check(t + 4, bytes, "vector of \(count) x \(elementSize) bytes")
        return FlatVector(reader: reader, start: t + 4, count: count, elementSize: elementSize)
    }

    /// A vector of scalars, copied into an array (empty when absent).
    public func scalars<T: FixedWidthInteger>(_ slot: Int, as _: T.Type) throws -> [T] {
        guard let v = try vector(slot, elementSize: MemoryLayout<T>.size) else { return [] }
        return (0..<v.count).map { i in
            T(littleEndian: reader.bytes.loadUnaligned(fromByteOffset: v.start + i * MemoryLayout<T>.size, as: T.self))
        }
    }

    /// A vector of floats, copied into an array (empty when absent).
    public func floats(_ slot: Int) throws -> [Float] {
        try scalars(slot, as: UInt32.self).map(Float.init(bitPattern:))
    }

    /// A vector of sub-tables (empty when absent).
    public func tables(_ slot: Int) throws -> [FlatTable] {
        guard let v = try vector(slot, elementSize: 4) else { return [] }
        return try (0..<v.count).map { i in
            let p = v.start + 4 * i
            let offset = try reader.load(UInt32.self, at: p, "table vector element")
            return try reader.table(at: p + Int(offset), "table vector element \(i)")
        }
    }

    /// A vector of strings (empty when absent).
    public func strings(_ slot: Int) throws -> [String] {
        guard let v = try vector(slot, elementSize: 4) else { return [] }
        return try (0..<v.count).map { i in
            let p = v.start + 4 * i
            let s = p + Int(try reader.load(UInt32.self, at: p, "string vector element"))
            let n = Int(try reader.load(UInt32.self, at: s, "string length"))
            try reader.check(s + 4, n, "string")
            let raw = UnsafeRawBufferPointer(rebasing: reader.bytes[(s + 4)..<(s + 4 + n)])
            guard let str = String(validating: raw, as: UTF8.self) else {
                throw ModelError.malformed("string is not valid UTF-8")
            }
            return str
        }
    }
}

/// Where a vector's elements lie (already bounds-checked).
public struct FlatVector: Sendable {
    let reader: FlatBufferReader
    /// Absolute position of element 0 within the reader's bytes.
    public let start: Int
    /// Number of elements.
    public let count: Int
    /// Size of one element in bytes.
    public let elementSize: Int
    /// The byte range of all elements.
    public var byteRange: Range<Int> { start..<(start + count * elementSize) }
}
