import CMagpieKernels
import MagpieModel

/// Optimized kernels of the quantized elementwise operators, byte-identical to the reference kernels (in either
/// arithmetic of `Requantization`). Each factory returns nil where it does not apply, and the operator keeps its
/// reference kernel.
///
/// - ADD / SUB of two same-shape uint8 / int8 tensors (MobileNetV2's residual adds): AVX2 in `elementwise_avx2.c`,
///   32 elements a step, the reference's exact int32 arithmetic in every lane; and ADD in XNNPACK's arithmetic
///   (`Requantization.xnnpack`), 64 a step with AVX-512. Broadcasting keeps the reference.
/// - Unary operators from one 8-bit input to an 8-bit output whose result depends on nothing but the input byte and
///   prepare-time parameters (QUANTIZE's requantization, quantized RELU / RELU6 / RELU_N1_TO_1, HARD_SWISH): the
///   reference operation itself is applied to all 256 input values at prepare, so the table cannot disagree with it,
///   and the kernel looks the results up. A table that is the identity, or a flip of the sign bit (uint8 <-> int8
///   with the same scale and zero points 128 apart, as at a quantized model's graph edges), runs as a copy or an XOR.
///
/// Tensors above a threshold (`parallelThreshold`, or `addParallelThreshold` for ADD / SUB) are split into chunks
/// over the interpreter's thread pool.
public enum QuantizedElementwise {
    /// Whether this CPU runs the AVX2 ADD / SUB kernels (otherwise quantized ADD / SUB use the reference kernels).
    public static let avx2Available: Bool = mqe_cpu_supported() != 0

    /// Elements above which a byte-lookup kernel splits its work over the pool: below it, a parallel region costs
    /// more than the few microseconds the split would save. The smallest chunk worth a task is a quarter of it.
    static let parallelThreshold = 1 << 16
    /// The same for ADD / SUB, which costs about 2 cycles an element (three exact requantizations) against a
    /// lookup's fraction of one: a 28x28x32 ADD takes about 25 us on one thread of this project's test machine.
    static let addParallelThreshold = 1 << 13

    /// How many chunks a `count`-element kernel runs as (1: on the calling thread alone).
    static func chunkCount(_ count: Int, _ pool: ThreadPool, threshold: Int = parallelThreshold) -> Int {
        guard count > threshold, pool.threadCount > 1 else { return 1 }
        return max(1, min(pool.threadCount * 2, count / (threshold / 4)))
    }

    /// The elements of chunk `task` of `chunks`: contiguous, boundaries on multiples of 32 (whole vector steps),
    /// the last chunk ending at `count`.
    static func chunk(_ task: Int, of chunks: Int, count: Int) -> Range<Int> {
        func start(_ i: Int) -> Int { i >= chunks ? count : (count * i / chunks) & ~31 }
        return start(task)..<start(task + 1)
    }

    // MARK: ADD / SUB

    /// Quantized ADD or SUB with the reference's prepared parameters, when both inputs have the output's shape and
    /// the parameters are in the range the vector code reproduces exactly (right shifts of 0...31, clamp within the
    /// element type: always so for models the converter writes).
    static func addSub<T: Elementwise.QuantizedElement>(_ kind: Elementwise.ArithmeticKind, _: T.Type,
                                                        _ p: Elementwise.QuantizedAddParameters,
                                                        _ wiring: Elementwise.BinaryWiring,
                                                        pool: ThreadPool) -> Kernel? {
        guard avx2Available, kind == .add || kind == .sub, T.bitWidth == 8, !wiring.shape.needsBroadcast else {
            return nil
        }
        let exponents = [-p.input1Shift, -p.input2Shift, -p.outputShift]
        guard exponents.allSatisfy({ (0...31).contains($0) }), (0...30).contains(p.leftShift),
              p.input1Multiplier >= 0, p.input2Multiplier >= 0, p.outputMultiplier >= 0,
              Int32(T.min) <= p.activationMin, p.activationMin <= p.activationMax, p.activationMax <= Int32(T.max)
        else { return nil }
        let parameters = mqe_add(
            input1_offset: p.input1Offset, input2_offset: p.input2Offset, output_offset: p.outputOffset,
            left_shift: Int32(p.leftShift),
            input1_multiplier: p.input1Multiplier, input1_exponent: Int32(exponents[0]),
            input2_multiplier: p.input2Multiplier, input2_exponent: Int32(exponents[1]),
            output_multiplier: p.outputMultiplier, output_exponent: Int32(exponents[2]),
            act_min: p.activationMin, act_max: p.activationMax,
            is_signed: T.isSigned ? 1 : 0, subtract: kind == .sub ? 1 : 0)
        let count = wiring.shape.elementCount
        return ByteBinaryKernel(parameters, run: mqe_add_run, input1: wiring.input1, input2: wiring.input2,
                                output: wiring.output, count: count,
                                chunks: chunkCount(count, pool, threshold: addParallelThreshold), pool: pool)
    }

    /// ADD in XNNPACK's arithmetic (`Requantization.xnnpack`, `Elementwise.ShiftedAdd`) when both inputs have the
    /// output's shape, on AVX2 (`mqe_shifted_add_run`): 64 elements a step with AVX-512, the same int32 lanes.
    static func shiftedAdd<T: Elementwise.QuantizedElement>(_: T.Type, _ p: Elementwise.ShiftedAddParameters,
                                                            _ wiring: Elementwise.BinaryWiring,
                                                            pool: ThreadPool) -> Kernel? {
        guard avx2Available, T.bitWidth == 8, !wiring.shape.needsBroadcast, (1...31).contains(p.shift),
              Int32(T.min) <= p.activationMin, p.activationMin <= p.activationMax, p.activationMax <= Int32(T.max)
        else { return nil }
        let parameters = mqe_shifted_add(
            bias: p.bias, multiplier1: p.multiplier1, multiplier2: p.multiplier2, shift: p.shift,
            output_offset: p.outputOffset, act_min: p.activationMin, act_max: p.activationMax,
            is_signed: T.isSigned ? 1 : 0)
        let count = wiring.shape.elementCount
        return ByteBinaryKernel(parameters, run: mqe_shifted_add_run, input1: wiring.input1, input2: wiring.input2,
                                output: wiring.output, count: count,
                                chunks: chunkCount(count, pool, threshold: addParallelThreshold), pool: pool)
    }

    // MARK: 8-bit lookup tables

    /// A table-lookup kernel for `op`, a unary operation from an 8-bit type to an 8-bit type (nil for wider types).
    /// - Precondition: `op.apply` depends only on its argument and `op`'s stored parameters.
    static func lookupTable<Op: Elementwise.UnaryOperation>(_ op: Op, input: Int, output: Int, count: Int,
                                                            _ context: inout PrepareContext) -> Kernel?
    where Op.Input: FixedWidthInteger, Op.Output: FixedWidthInteger {
        guard Op.Input.bitWidth == 8, Op.Output.bitWidth == 8 else { return nil }
        // Indexed by the input's bit pattern; entries hold the output's bit pattern.
        let table = context.allocate(UInt8.self, count: 256)
        var isIdentity = true, isSignFlip = true
        for byte in 0..<256 {
            let value = UInt8(truncatingIfNeeded: op.apply(Op.Input(truncatingIfNeeded: byte)))
            table[byte] = value
            isIdentity = isIdentity && value == UInt8(byte)
            isSignFlip = isSignFlip && value == UInt8(byte) ^ 0x80
        }
        let mapping: ByteLookupKernel.Mapping = isIdentity ? .copy : isSignFlip ? .flipSignBit : .table(UnsafePointer(table))
        return ByteLookupKernel(mapping, input: input, output: output, count: count,
                                chunks: chunkCount(count, context.pool), pool: context.pool)
    }
}

/// Same-shape quantized ADD / SUB through a C function of `Parameters` (`mqe_add_run`, `mqe_shifted_add_run`), in
/// chunks over the pool for large tensors.
final class ByteBinaryKernel<Parameters>: Kernel {
    typealias Run = (UnsafePointer<Parameters>?, UnsafeRawPointer?, UnsafeRawPointer?, UnsafeMutableRawPointer?,
                     Int64) -> Void
    let parameters: Parameters
    let run: Run
    let input1: Int, input2: Int, output: Int
    let count: Int, chunks: Int
    let pool: ThreadPool

    init(_ parameters: Parameters, run: @escaping Run, input1: Int, input2: Int, output: Int, count: Int, chunks: Int,
         pool: ThreadPool) {
        self.parameters = parameters
        self.run = run
        self.input1 = input1; self.input2 = input2; self.output = output
        self.count = count; self.chunks = chunks; self.pool = pool
    }

    func invoke(_ t: TensorBuffers) throws {
        let a = UnsafeRawPointer(t[input1]), b = UnsafeRawPointer(t[input2]), out = t[output]
        let count = self.count, chunks = self.chunks, pool = self.pool, run = self.run
        withUnsafePointer(to: parameters) { p in
            if chunks == 1 {
                run(p, a, b, out, Int64(count))
                return
            }
            pool.parallelFor(chunks) { task in
                let r = QuantizedElementwise.chunk(task, of: chunks, count: count)
                run(p, a + r.lowerBound, b + r.lowerBound, out + r.lowerBound, Int64(r.count))
            }
        }
    }
}

/// An elementwise byte-to-byte mapping (see `QuantizedElementwise.lookupTable`), in chunks over the pool for large
/// tensors.
final class ByteLookupKernel: Kernel {
    /// What the 256-entry table turned out to be.
    enum Mapping {
        /// Every byte maps to itself.
        case copy
        /// Every byte maps to itself with the top bit flipped (`x ^ 0x80`).
        case flipSignBit
        /// Any other mapping (plan-owned, immutable after prepare).
        case table(UnsafePointer<UInt8>)
    }

    let mapping: Mapping
    let input: Int, output: Int
    let count: Int, chunks: Int
    let pool: ThreadPool

    init(_ mapping: Mapping, input: Int, output: Int, count: Int, chunks: Int, pool: ThreadPool) {
        self.mapping = mapping
        self.input = input; self.output = output
        self.count = count; self.chunks = chunks; self.pool = pool
    }

    func invoke(_ t: TensorBuffers) throws {
        let x = UnsafePointer(t.pointer(input, as: UInt8.self)), y = t.pointer(output, as: UInt8.self)
        let mapping = self.mapping, count = self.count, chunks = self.chunks
        if chunks == 1 {
            Self.map(mapping, x, y, 0..<count)
            return
        }
        pool.parallelFor(chunks) { task in
            Self.map(mapping, x, y, QuantizedElementwise.chunk(task, of: chunks, count: count))
        }
    }

    /// Maps the elements in `range`; `y` may be `x` (in place).
    @inline(__always)
    static func map(_ mapping: Mapping, _ x: UnsafePointer<UInt8>, _ y: UnsafeMutablePointer<UInt8>,
                    _ range: Range<Int>) {
        switch mapping {
        case .copy:
            if x != UnsafePointer(y) {
                UnsafeMutableRawPointer(y + range.lowerBound).copyMemory(from: x + range.lowerBound,
                                                                        byteCount: range.count)
            }
        case .flipSignBit:
            // Eight bytes a step through unaligned 64-bit words, then the tail byte by byte.
            let source = UnsafeRawPointer(x), destination = UnsafeMutableRawPointer(y)
            var i = range.lowerBound
            while i + 8 <= range.upperBound {
                let word = source.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                destination.storeBytes(of: word ^ 0x8080_8080_8080_8080, toByteOffset: i, as: UInt64.self)
                i += 8
            }
            while i < range.upperBound {
                y[i] = x[i] ^ 0x80
                i += 1
            }
        case .table(let table):
            for i in range { y[i] = table[Int(x[i])] }
        }
    }
}
