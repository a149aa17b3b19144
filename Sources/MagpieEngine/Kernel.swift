import MagpieModel

/// Which implementation of each operator the interpreter uses.
public enum KernelSet: String, Sendable, CaseIterable {
    /// Naive kernels that follow TFLite's reference arithmetic exactly: the spec.
    case reference
    /// The fastest kernels for this CPU, falling back to the reference where there is no faster one.
    case optimized
}

/// The arithmetic of the optimized float32 convolutions.
public enum FloatPrecision: String, Sendable, CaseIterable {
    /// float32 throughout, within 1e-4 (relative) of the reference kernels: the default.
    case float32
    /// Opt-in: the pointwise convolutions multiply in bfloat16 (8-bit significands) with float32 sums, on AMX-BF16
    /// tiles or with AVX512_BF16 instructions where the CPU has them, and the rest stays float32. Faster, and less
    /// accurate: each product errs by up to about 2^-8 relative. `magpie bench --runtime magpie-bf16` measures the
    /// loss against float32. Without either (or with the reference kernels) the model runs in float32.
    case bfloat16
}

/// The integer arithmetic of the quantized operators whose rounding LiteRT's two CPU paths do differently:
/// CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, MEAN (the requantization of their int32 sums) and ADD. The two
/// differ by a rounding now and then; on the test goldens the outputs stay within the units by which LiteRT's own
/// reference and XNNPACK outputs differ (docs/performance.md, "Requantization").
public enum Requantization: String, Sendable, CaseIterable {
    /// LiteRT's reference kernels, bit for bit: Q31 fixed-point multipliers with gemmlowp's double rounding
    /// (convolutions, ADD's 20-bit rescaling) and a double-precision scale for FULLY_CONNECTED.
    case reference
    /// The arithmetic of LiteRT's default CPU path, XNNPACK, and fewer instructions per output:
    /// - convolutions: one float32 multiply by `input_scale * filter_scale / output_scale` (float32 products),
    ///   clamped to the activation range in float, rounded half to even, plus the output zero point; MEAN the same
    ///   with `input_scale / (output_scale * n)`;
    /// - ADD: each input times a multiplier of at most 21 bits, one arithmetic right shift, rounding half up.
    /// A layer whose scales lie outside what XNNPACK takes ([2^-32, 256) for a convolution or MEAN, ratios in
    /// [2^-10, 2^8) for ADD) keeps the reference arithmetic, as XNNPACK hands such a layer back to LiteRT.
    case xnnpack

    /// The arithmetic an interpreter uses when its options name none: the reference kernels' for the reference
    /// kernels (the spec), XNNPACK's for the optimized ones.
    public static func `default`(for kernels: KernelSet) -> Requantization {
        kernels == .reference ? .reference : .xnnpack
    }
}

/// Raw data pointers of every tensor of the running subgraph, indexed by tensor index.
///
/// Set once per `allocateTensors()`; kernels look their tensors up by index (an array access, no hashing).
public struct TensorBuffers: @unchecked Sendable {
    let base: UnsafeMutablePointer<UnsafeMutableRawPointer>

    @inline(__always)
    public subscript(index: Int) -> UnsafeMutableRawPointer { base[index] }

    @inline(__always)
    public func pointer<T>(_ index: Int, as _: T.Type) -> UnsafeMutablePointer<T> {
        base[index].assumingMemoryBound(to: T.self)
    }
}

/// A prepared operator: shapes known, parameters computed, weights packed.
///
/// `invoke` does the arithmetic only: it must not allocate, validate or look anything up by name.
public protocol Kernel: AnyObject {
    func invoke(_ tensors: TensorBuffers) throws
}

/// A kernel made from a closure; handy for small operators.
final class ClosureKernel: Kernel {
    let body: (TensorBuffers) throws -> Void
    init(_ body: @escaping (TensorBuffers) throws -> Void) { self.body = body }
    func invoke(_ tensors: TensorBuffers) throws { try body(tensors) }
}

/// What a tensor looks like while the graph is being prepared.
public struct TensorInfo: @unchecked Sendable {
    public var name: String
    public var type: TensorType
    public var shape: [Int]
    public var quantization: QuantizationParameters?
    /// Constant data from the model, if the tensor has any.
    public var constant: UnsafeRawBufferPointer?
    public var isVariable: Bool

    public var elementCount: Int { shape.reduce(1, *) }
    public var byteCount: Int { elementCount * (type.byteSize ?? 0) }
    public var rank: Int { shape.count }
    public var isConstant: Bool { constant != nil }

    /// The per-tensor scale (0 when not quantized).
    public var scale: Float { quantization?.scale ?? 0 }
    /// The per-tensor zero point (0 when not quantized).
    public var zeroPoint: Int32 { Int32(truncatingIfNeeded: quantization?.zeroPoint ?? 0) }
}

/// Everything a kernel factory sees while preparing one operator.
///
/// Inputs are read through `input(_:)`; outputs get their shape (and, rarely, type) through `setOutputShape`.
public struct PrepareContext {
    public let index: Int
    public let op: OperatorDescription
    public let code: OperatorCode
    public let kernels: KernelSet
    /// The arithmetic of the optimized float convolutions.
    public var floatPrecision: FloatPrecision = .float32
    /// The rounding arithmetic of the quantized convolutions, MEAN and ADD.
    public var requantization: Requantization = .reference
    public let threadCount: Int
    /// The interpreter's thread pool, for kernels that split their work.
    public let pool: ThreadPool
    var tensors: [TensorInfo]
    /// Owned memory the kernel asks for at prepare time (packed weights, tables); freed with the plan.
    var scratch: ScratchAllocations

    public var inputCount: Int { op.inputs.count }
    public var outputCount: Int { op.outputs.count }

    /// Throws a `KernelError` unless `condition` holds.
    public func require(_ condition: Bool, _ reason: @autoclosure () -> String) throws {
        if !condition { throw KernelError(reason()) }
    }

    /// The tensor index of input `i`, or nil when it is absent or omitted (-1).
    public func inputIndex(_ i: Int) -> Int? {
        guard i < op.inputs.count, op.inputs[i] >= 0 else { return nil }
        return op.inputs[i]
    }

    /// Tensor index of output `i`.
    public func outputIndex(_ i: Int) throws -> Int {
        try require(i < op.outputs.count, "expected at least \(i + 1) outputs, got \(op.outputs.count)")
        return op.outputs[i]
    }

    /// Input `i`; throws when missing.
    public func input(_ i: Int) throws -> TensorInfo {
        guard let t = inputIndex(i) else { throw KernelError("input \(i) is missing") }
        return tensors[t]
    }

    /// Input `i`, or nil when omitted.
    public func optionalInput(_ i: Int) -> TensorInfo? { inputIndex(i).map { tensors[$0] } }

    /// Output `i` as declared so far.
    public func output(_ i: Int) throws -> TensorInfo { tensors[try outputIndex(i)] }

    /// Sets the shape of output `i`.
    public mutating func setOutputShape(_ i: Int, _ shape: [Int]) throws {
        let t = try outputIndex(i)
        try require(shape.allSatisfy { $0 >= 0 }, "computed a negative output dimension \(shape)")
        var count = 1
        for d in shape {
            let (p, o) = count.multipliedReportingOverflow(by: d)
            try require(!o && p <= Int(Int32.max), "output shape \(shape) is too large")
            count = p
        }
        tensors[t].shape = shape
    }

    /// Requires exactly `n` inputs (counting omitted ones) and `m` outputs.
    public func requireCounts(inputs n: ClosedRange<Int>, outputs m: Int) throws {
        try require(n.contains(op.inputs.count), "expected \(n.lowerBound == n.upperBound ? "\(n.lowerBound)" : "\(n.lowerBound)-\(n.upperBound)") inputs, got \(op.inputs.count)")
        try require(op.outputs.count == m, "expected \(m) outputs, got \(op.outputs.count)")
    }

    /// Constant data of input `i` as an array of `T` (checked for size); nil if the input is not constant.
    public func constantValues<T: FixedWidthInteger>(_ i: Int, as _: T.Type) throws -> [T]? {
        let t = try input(i)
        guard let c = t.constant else { return nil }
        let n = c.count / MemoryLayout<T>.size
        return (0..<n).map { c.loadUnaligned(fromByteOffset: $0 * MemoryLayout<T>.size, as: T.self) }
    }

    /// Allocates `count` elements of `T`, initialised to zero, owned by the prepared plan.
    public mutating func allocate<T>(_: T.Type, count: Int) -> UnsafeMutablePointer<T> {
        scratch.allocate(T.self, count: count)
    }
}

/// Memory a prepared plan owns besides the arena (packed weights, lookup tables, aligned copies of constants), all
/// zeroed and 64-byte aligned. Requests of 16 KiB and more are carved one after another from `LargeMemory` chunks
/// of at least 4 MiB (huge pages on Linux: the packed weights are most of them); smaller ones come from malloc.
final class ScratchAllocations {
    static let largeRequest = 16 << 10
    static let chunkBytes = 4 << 20

    private var blocks: [UnsafeMutableRawPointer] = []
    private var chunks: [LargeMemory] = []
    private var next: UnsafeMutableRawPointer? = nil
    private var left = 0

    func allocate<T>(_: T.Type, count: Int) -> UnsafeMutablePointer<T> {
        precondition(MemoryLayout<T>.alignment <= 64)
        let bytes = max(1, count * MemoryLayout<T>.stride)
        let p = bytes >= Self.largeRequest ? carve(bytes) ?? heap(bytes) : heap(bytes)
        return p.bindMemory(to: T.self, capacity: max(1, count))
    }

    private func heap(_ bytes: Int) -> UnsafeMutableRawPointer {
        let p = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        p.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
        blocks.append(p)
        return p
    }

    /// The next `bytes` (rounded up to 64) of the current chunk, or of a new one (freshly mapped memory is zero).
    private func carve(_ bytes: Int) -> UnsafeMutableRawPointer? {
        let need = (bytes + 63) / 64 * 64
        if need > left {
            guard let chunk = LargeMemory(bytes: max(Self.chunkBytes, need)) else { return nil }
            chunks.append(chunk)
            next = chunk.base
            left = chunk.length
        }
        guard let p = next else { return nil }
        next = p + need
        left -= need
        return p
    }

    deinit { for b in blocks { b.deallocate() } }
}

/// How one builtin operator is prepared into a kernel.
public struct OperatorRegistration: Sendable {
    public let op: BuiltinOperator
    /// Validates the operator, sets output shapes and returns a ready kernel.
    public let prepare: @Sendable (inout PrepareContext) throws -> Kernel

    public init(_ op: BuiltinOperator, prepare: @escaping @Sendable (inout PrepareContext) throws -> Kernel) {
        self.op = op
        self.prepare = prepare
    }
}

extension FusedActivation {
    /// The activation as the kernels implement it; TANH and SIGN_BIT are refused.
    func kind() throws -> FusedActivationKind {
        switch self {
        case .none: return .none
        case .relu: return .relu
        case .relu6: return .relu6
        case .reluN1To1: return .reluN1To1
        case .tanh, .signBit: throw KernelError("fused activation \(self) is not supported")
        }
    }
}
