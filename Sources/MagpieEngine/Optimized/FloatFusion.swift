import CMagpieKernels
import MagpieModel

/// Fusion of prepared optimized kernels, run once after every operator is prepared.
///
/// Three patterns. First, a float convolution whose output only a 3×3 depthwise convolution reads: a pointwise
/// expansion (1×1, stride 1), as in every inverted-residual block of MobileNetV2, or a windowed convolution
/// (`mf_conv_rows`), as MobileNetV2's first layer. The pair becomes one kernel, `FloatExpandDepthwise`, that computes the
/// convolution's output rows into a ring of two bands of two rows per task and the depthwise rows from the ring, so
/// that tensor (4.8 MB at 112 × 112 × 96) never goes through memory; the depthwise operator's kernel becomes a no-op.
/// The ring rows are planar (each 8-channel block's pixels together), so the depthwise walk along a channel block
/// reads consecutive 32-byte pixels.
/// Each row is computed by the same GEMM tile as before, so the outputs are bit-identical to running the two
/// kernels one after the other.
///
/// Second, a float ADD of two same-shaped tensors, one of them the output of the pointwise convolution just before
/// it that nothing else reads (MobileNetV2's projection and residual sum): the convolution's store adds the other
/// operand and applies the ADD's clamp (`ResidualAdd`), writing the ADD's output; the convolution's own output gets
/// no memory and the ADD's kernel becomes a no-op. Each output is the ADD's `clamp(a + b)` of the convolution's
/// clamped value, as before.
///
/// Third, the pointwise projection after a fused pair, with its ADD (`fuseProjections`).
public enum KernelFusion {
    /// Whether this CPU has the kernels that fuse (the AVX2 + FMA float kernels).
    public static var available: Bool { FloatKernels.avx2Available }

    struct Result {
        var kernels: [Kernel]
        /// Tensors each kernel reads or writes, for the memory plan: the fused kernel writes the depthwise output at
        /// the expansion's position, and nothing touches the expanded tensor, which gets no memory.
        var uses: [[Int]]
        /// Operator index → the operator it was fused into.
        var fusedInto: [Int: Int]
        /// How many operators read each tensor, and the graph's outputs.
        let readers: [Int], graphOutputs: Set<Int>

        /// Whether tensor `t` is one operator's input and nothing else's (no graph output, no variable), so that a
        /// kernel that fuses its writer and that reader may keep it out of memory.
        func isPrivate(_ t: Int, infos: [TensorInfo]) -> Bool {
            readers[t] == 1 && !graphOutputs.contains(t) && !infos[t].isVariable
        }
    }

    /// Fuses only where the expanded tensor is at least this large: MobileNetV2's 14 × 14 blocks (301-451 KB) gain
    /// 4-16% (C harness, expansion + depthwise with the caches full of other data), its 7 × 7 ones (188 KB) nothing,
    /// the whole expanded image staying in L2 anyway...
    static let minimumExpandedBytes = 256 * 1024
    /// ...and the expansion's weights at most this large: every band of expanded rows streams all of them, which a
    /// 7×7 layer's 600 KB make slower than the unfused GEMM that reads each weight panel once.
    static let maximumWeightBytes = 256 * 1024

    /// A fused projection reads its weights again for every 6-pixel tile, so they must stay in L1 next to the
    /// expansion's: MobileNetV2's 32 → 16, 96 → 24 and 144 → 24 (2-14 KB) gained, 144 → 32 (18 KB) measured the
    /// same, and the larger ones lost 2-4% against the unfused GEMM, which runs each weight panel over all the rows.
    /// At two threads too (row bands; the model with interpreters alternating): up to 25 KB, the 28 × 28 blocks
    /// fused as well, 0.997x; up to 100 KB 0.974x; every block 0.911x.
    static let maximumProjectionWeightBytes = 16 * 1024

    /// The kernels as prepared, each using its operator's inputs and outputs.
    static func none(subgraph: Subgraph, kernels: [Kernel]) -> Result {
        var readers = [Int](repeating: 0, count: subgraph.tensors.count)
        for op in subgraph.operators { for t in op.inputs where t >= 0 && t < readers.count { readers[t] += 1 } }
        return Result(kernels: kernels, uses: subgraph.operators.map { ($0.inputs + $0.outputs).filter { $0 >= 0 } },
                      fusedInto: [:], readers: readers, graphOutputs: Set(subgraph.outputs))
    }

    static func fuse(subgraph: Subgraph, codes: [BuiltinOperator], infos: [TensorInfo], kernels: [Kernel],
                     scratch: ScratchAllocations, pool: ThreadPool, precision: FloatPrecision = .float32) -> Result {
        var result = none(subgraph: subgraph, kernels: kernels)
        var i = 0
        while i + 1 < kernels.count {
            defer { i += 1 }
            // The producer: a pointwise expansion (A read in place) or a convolution with `mf_conv_rows` (the first
            // layer, 3x3 stride 2 on the image).
            guard let conv = kernels[i] as? FloatGEMMConv2D, let dw = kernels[i + 1] as? CTaskKernel<mf_dw>,
                  (conv.scratch == nil && conv.g.isPointwise) || conv.conv != nil, conv.tensors.output == dw.input,
                  result.isPrivate(dw.input, infos: infos) else { continue }
            let d = dw.params.pointee
            guard d.kh == 3, d.kw == 3, d.dh == 1, d.dw == 1, d.zero_row != nil, Int(d.c) == conv.g.outputDepth,
                  Int(d.batches) == conv.g.batches, Int(d.ih) == conv.g.outputHeight,
                  Int(d.iw) == conv.g.outputWidth, infos[dw.input].byteCount >= minimumExpandedBytes,
                  conv.k * conv.g.outputDepth * MemoryLayout<Float>.size <= maximumWeightBytes else { continue }
            // The bfloat16 precision multiplies the expansion in bfloat16 too (K >= 32 comes prepared for it).
            var amx = conv.amx?.params
            if amx == nil && precision == .bfloat16 && conv.conv == nil && FloatKernels.bfloat16Available {
                let k = conv.k, w = FloatKernels.panelWidth, packed = conv.packed
                amx = FloatKernels.amxGEMM(scratch, k: k, n: conv.g.outputDepth, bias: conv.bias, lo: conv.lo,
                                           hi: conv.hi) { oc, kk in packed[((oc / w) * k + kk) * w + oc % w] }
            }
            let fused = FloatExpandDepthwise(conv: conv, amx: amx, depthwise: d, input: conv.tensors.input,
                                             output: dw.output, scratch: scratch, pool: pool)
            result.kernels[i] = fused
            result.kernels[i + 1] = ClosureKernel { _ in }
            result.uses[i] = [conv.tensors.input, dw.output]
            result.uses[i + 1] = []
            result.fusedInto[i + 1] = i
            i += 1
        }
        for i in stride(from: 0, to: kernels.count - 1, by: 1)
        where result.fusedInto[i] == nil && result.fusedInto[i + 1] == nil {
            guard codes[i + 1] == .add, let conv = result.kernels[i] as? FloatGEMMConv2D, conv.canFuseResidualAdd,
                  let add = residualAdd(subgraph.operators[i + 1], after: conv.tensors.output, infos: infos),
                  result.isPrivate(conv.tensors.output, infos: infos) else { continue }
            conv.fuseResidualAdd(add)
            result.kernels[i + 1] = ClosureKernel { _ in }
            result.uses[i] = [conv.tensors.input, add.input, add.output]
            result.uses[i + 1] = []
            result.fusedInto[i + 1] = i
        }
        return result
    }

    /// Third pattern, after zero skipping is decided: the pointwise projection that reads a fused pair's output
    /// (MobileNetV2's inverted-residual blocks: expansion, depthwise, projection and its ADD) runs inside the pair
    /// on each task's depthwise rows as they are made (`FloatExpandDepthwise.fuseProjection`), so the depthwise
    /// output (1.6 MB at 112 × 112 × 32, 1.8 MB at 56 × 56 × 144) never goes through memory and gets none. Only
    /// where the projection's weights are at most `maximumProjectionWeightBytes`. With several threads the pair's
    /// tasks become row bands (`FloatExpandDepthwise.fuseProjection`).
    ///
    /// Measured at one thread, interpreters alternating in one process (medians per block, the model in a slow
    /// minute): the 112 × 112 block (first layer, depthwise, 32 → 16) 0.965 → 0.795 ms, the 56 × 56 ones 1.000 →
    /// 0.900 and 0.855 → 0.800 ms; the model 1.03x faster with every block fused, although the blocks from 28 × 28
    /// down were 2-4% slower (their projections' weights, 18-368 KB, came from L2 again for each tile).
    /// At two threads, in bands of rows, against the projections unfused (interpreters alternating, runs of 400-500
    /// inferences): the model 1.019-1.043x faster, the three blocks 1.41 → 1.31-1.32 ms together.
    static func fuseProjections(_ result: inout Result, infos: [TensorInfo], scratch: ScratchAllocations) {
        for i in stride(from: 0, to: result.kernels.count - 2, by: 1) where result.fusedInto[i] == nil {
            guard let pair = result.kernels[i] as? FloatExpandDepthwise, result.fusedInto[i + 1] == i,
                  result.fusedInto[i + 2] == nil, let conv = result.kernels[i + 2] as? FloatGEMMConv2D,
                  pair.canFuseProjection(conv), conv.k * conv.g.outputDepth * 4 <= maximumProjectionWeightBytes,
                  result.isPrivate(pair.output, infos: infos) else { continue }
            pair.fuseProjection(conv, scratch: scratch)
            result.kernels[i + 2] = ClosureKernel { _ in }
            let residual = conv.residual.map { $0.input == pair.input ? [] : [$0.input] } ?? []
            result.uses[i] = [pair.input] + residual + [conv.writes]
            result.uses[i + 2] = []
            result.fusedInto[i + 2] = i
            // The ADD fused into the projection now runs in the pair.
            for (inner, outer) in result.fusedInto where outer == i + 2 { result.fusedInto[inner] = i }
        }
    }

    /// The ADD `op` as a residual sum onto tensor `y`: float32, both operands and the output of `y`'s shape, `y` one
    /// operand (either side: float addition commutes); nil otherwise.
    static func residualAdd(_ op: OperatorDescription, after y: Int, infos: [TensorInfo]) -> ResidualAdd? {
        guard op.inputs.count == 2, op.outputs.count == 1, op.inputs.allSatisfy({ $0 >= 0 }) else { return nil }
        let other = op.inputs[0] == y ? op.inputs[1] : op.inputs[1] == y ? op.inputs[0] : -1
        let output = op.outputs[0]
        guard other >= 0, other != y, output >= 0, output != y, output != other else { return nil }
        let shape = infos[y].shape
        guard infos[y].type == .float32, infos[other].type == .float32, infos[output].type == .float32,
              infos[other].shape == shape, infos[output].shape == shape, !infos[output].isVariable else { return nil }
        var activation = FusedActivationKind.none
        if case let .arithmetic(a) = op.options {
            guard let kind = try? a.kind() else { return nil }
            activation = kind
        }
        let (lo, hi) = QuantizedArithmetic.activationRange(activation)
        return ResidualAdd(input: other, output: output, lo: lo, hi: hi)
    }
}

/// A float ADD fused into the store of the pointwise convolution before it: each output is
/// `clamp(convolution + input, lo, hi)`, written to `output` (the ADD's activation range; ±FLT_MAX without one, as
/// the reference ADD clamps).
struct ResidualAdd {
    /// The ADD's other operand.
    let input: Int
    let output: Int
    let lo: Float, hi: Float

    /// What `mf_gemm` takes: the other operand's element for the block's first output, and the clamp.
    struct Operands {
        let add: UnsafePointer<Float>
        let lo: Float, hi: Float
    }
}

/// A convolution (a pointwise expansion, or a windowed one through `mf_conv_rows`) and the 3×3 depthwise convolution
/// after it, as one kernel (`mf_expand_dw_rows`): the convolution's output rows are computed two at a time
/// (`bandRows`) into a ring of two such bands, and the depthwise rows from the ring.
///
/// Tasks are a grid of row ranges (`bands`, one per thread where each keeps at least `minBandRows` output rows)
/// by chunks of the 16-channel weight panels (whole pairs: the GEMM's 6 x 32 tile), about `tasksPerThread` per
/// thread: a task computes its chunk's channels of the expansion and of the depthwise convolution for every row of
/// its range. Two tasks whose windows share an expanded row both compute it, so the rows are split only between
/// threads; the chunks are what balances them. Each thread starts on its own range's chunks (the pool gives each
/// thread a contiguous share of the tasks), and whichever finishes first goes on into the other's range: on this
/// VM one vCPU is often 20-50% slower than the other for seconds at a time, and with one task per thread every
/// pair waited for the slow one. One thread runs one chunk (smaller chunks measured 1-5% slower per pair there:
/// each rereads the expansion's input and walks the rows again). The rings are per thread (`ThreadPool`'s slot). A
/// pair that runs its projection too splits only rows (`fuseProjection`).
final class FloatExpandDepthwise: Kernel {
    /// Expanded rows per band. Two gives the 14 × 14 blocks' GEMM 28 rows per call instead of 14 (short tiles):
    /// C harness, one thread, expansion + depthwise, 14 × 14 64 → 384 0.139 → 0.128 ms against one row at a time;
    /// in the model the larger blocks run the same with one, two or three rows per band.
    static let bandRows = 2
    /// Output rows a thread's row range keeps at least before the threads share one range. Rows are the better
    /// split: the next operator (a projection) splits rows, so each thread reads what it wrote itself, where panel
    /// ranges leave half of every pixel's channels in the other core's cache. Two threads, profile minima over four
    /// alternating runs: the model's operators 3.73 → 3.43 ms with rows (the 112 × 112 pair 0.41 → 0.30 ms, the
    /// 28 × 28 projections 0.055 → 0.038) although each range computes the expanded rows at its edges again.
    static let minBandRows = 4
    /// Tasks per thread where there are several threads: chunks of the weight panels let whichever thread is
    /// ahead take work from the other's row range.
    static let tasksPerThread = 4

    let input: Int, output: Int
    let params: UnsafePointer<mf_expand_dw>
    /// A ring per thread slot.
    let rings: UnsafeMutablePointer<Float>, ringFloats: Int
    /// Per thread slot, 6 × K floats for the tiles `mf_conv_rows` gathers (a windowed producer), or the bf16 rows
    /// of the AMX expansion's A.
    let scratch: UnsafeMutablePointer<Float>, scratchFloats: Int
    let rows: Int, panels: Int
    /// Tasks: `bands` row ranges times `chunks` panel ranges (task = band * chunks + chunk).
    private(set) var bands: Int, chunks: Int
    let pool: ThreadPool

    init(conv: FloatGEMMConv2D, amx: UnsafePointer<mfa_gemm>? = nil, depthwise d: mf_dw, input: Int, output: Int,
         scratch: ScratchAllocations, pool: ThreadPool) {
        self.input = input; self.output = output; self.pool = pool
        rows = Int(d.batches) * Int(d.oh)
        panels = (Int(d.c) + 15) / 16
        let threads = max(1, pool.threadCount)
        bands = max(1, min(threads, rows / Self.minBandRows))
        // About `tasksPerThread` tasks per thread, in chunks of whole pairs of panels (an odd panel joins the last
        // chunk); one chunk on one thread. A windowed producer (each chunk would gather its input patches again)
        // and the AMX expansion (each would round its A rows to bf16 again: 2 threads, 2.80-2.98 → 3.03-3.46 ms
        // median latency with four tasks per thread) get one task per thread.
        let perThread = conv.conv != nil || amx != nil ? 1 : Self.tasksPerThread
        chunks = threads == 1 ? 1 : min(PanelPairs.count(panels), (perThread * threads + bands - 1) / bands)
        ringFloats = Int(mf_expand_dw_ring_floats(d.iw, d.c, Int32(Self.bandRows)))
        rings = scratch.allocate(Float.self, count: threads * ringFloats)
        // The bf16 rows of the AMX expansion's A (two bf16 per float).
        scratchFloats = conv.conv != nil ? FloatKernels.tileRows * conv.k
            : amx != nil ? Int(mfa_abuf_count(Int32(conv.k)) + 1) / 2 : 0
        self.scratch = scratch.allocate(Float.self, count: max(1, threads * scratchFloats))
        let p = scratch.allocate(mf_expand_dw.self, count: 1)
        p.pointee = mf_expand_dw(dw: d, cin: Int32(conv.k), packed: UnsafePointer(conv.packed),
                                 bias: UnsafePointer(conv.bias), lo: conv.lo, hi: conv.hi,
                                 clamps: FloatKernels.clamps(conv.lo, conv.hi) ? 1 : 0, conv: conv.conv,
                                 band: Int32(Self.bandRows), amx: amx, proj: nil)
        params = UnsafePointer(p)
    }

    /// Output rows and weight panels of `task`.
    func ranges(_ task: Int) -> (rows: Range<Int>, panels: Range<Int>) {
        let b = task / chunks
        return (rows * b / bands ..< rows * (b + 1) / bands, PanelPairs.range(task % chunks, of: chunks, panels: panels))
    }

    /// The pointwise projection fused after the pair (`fuseProjection`): the kernel then writes its output (or its
    /// residual ADD's), and the depthwise output lives only in a row buffer per thread slot.
    struct Projection {
        let conv: FloatGEMMConv2D
        let params: UnsafeMutablePointer<mf_project>
        /// Per thread slot: `mf_expand_dw_project_floats` floats of depthwise rows, and the lists of live steps.
        let buffers: UnsafeMutablePointer<Float>, bufferFloats: Int
        let lists: UnsafeMutablePointer<Int32>, listInts: Int
        /// Per thread slot, `ringStateStride` apart (more than a cache line): what the slot's ring holds.
        let ringStates: UnsafeMutablePointer<mf_ring_state>
        static let ringStateStride = 4
    }
    private(set) var projection: Projection? = nil
    /// This kernel's invokes with the projection, counted (1 after Int32.max) to tag the rings' contents.
    private var invocation: Int32 = 0

    /// Whether `fuseProjection` takes `conv`: a float pointwise GEMM (not on AMX) that reads this pair's output with
    /// its channels as the reduction, on a float (not AMX) pair.
    func canFuseProjection(_ conv: FloatGEMMConv2D) -> Bool {
        let d = params.pointee.dw
        return projection == nil && params.pointee.amx == nil && conv.amx == nil && conv.avx2
            && conv.g.isPointwise && conv.scratch == nil && conv.conv == nil && conv.kMajorStride == 0
            && conv.tensors.input == output && conv.k == Int(d.c) && conv.g.batches == Int(d.batches)
            && conv.g.outputHeight == Int(d.oh) && conv.g.outputWidth == Int(d.ow)
    }

    /// From now on each task runs the projection `conv` on its depthwise rows as they are made
    /// (`mf_expand_dw_project_rows`), with `conv`'s weights, clamp, residual ADD and zero skipping.
    ///
    /// A projection needs every channel of its pixels, so with several threads the tasks become row bands, about
    /// `tasksPerThread` per thread (each keeping at least `minBandRows` rows), whole channels each: claimed from
    /// both ends, they balance the threads as the channel chunks did, at the cost of computing again the expanded
    /// rows at every band's edges. Two threads, against the projections unfused: the model 1.022x with one band
    /// per thread, 1.025-1.043x with 6-8 bands, 1.008-1.019x with 12-16.
    func fuseProjection(_ conv: FloatGEMMConv2D, scratch allocations: ScratchAllocations) {
        precondition(canFuseProjection(conv))
        let d = params.pointee.dw, threads = max(1, pool.threadCount)
        let p = allocations.allocate(mf_project.self, count: 1)
        p.pointee = mf_project(packed: UnsafePointer(conv.packed), bias: UnsafePointer(conv.bias),
                               n: Int32(conv.g.outputDepth), panels: Int32(conv.panels), lo: conv.lo, hi: conv.hi,
                               clamps: FloatKernels.clamps(conv.lo, conv.hi) ? 1 : 0, out: nil, add: nil,
                               add_lo: conv.residual?.lo ?? 0, add_hi: conv.residual?.hi ?? 0,
                               skips: conv.live != nil ? 1 : 0)
        let bufferFloats = Int(mf_expand_dw_project_floats(d.ow, d.c)), listInts = Int(d.c) + 9
        projection = Projection(conv: conv, params: p,
                                buffers: allocations.allocate(Float.self, count: threads * bufferFloats),
                                bufferFloats: bufferFloats,
                                lists: allocations.allocate(Int32.self, count: threads * listInts), listInts: listInts,
                                ringStates: allocations.allocate(mf_ring_state.self,
                                                                 count: threads * Projection.ringStateStride))
        UnsafeMutablePointer(mutating: params).pointee.proj = UnsafePointer(p)
        if threads > 1 {
            bands = max(1, min(Self.tasksPerThread * threads, rows / Self.minBandRows))
            chunks = 1
        }
    }

    func invoke(_ t: TensorBuffers) throws {
        let x = UnsafePointer(t.pointer(input, as: Float.self))
        let params = self.params, rings = self.rings, ringFloats = self.ringFloats
        let scratch = self.scratch, scratchFloats = self.scratchFloats
        if let projection {
            projection.params.pointee.out = t.pointer(projection.conv.writes, as: Float.self)
            projection.params.pointee.add = projection.conv.residual.map {
                UnsafePointer(t.pointer($0.input, as: Float.self))
            }
            let buffers = projection.buffers, bufferFloats = projection.bufferFloats
            let lists = projection.lists, listInts = projection.listInts
            // A thread's bands follow one another, so each call finds the rows its windows share with the
            // previous band in the thread's ring (`mf_ring_state`), tagged with this invoke.
            invocation = invocation == Int32.max ? 1 : invocation + 1
            let states = projection.ringStates, invocation = self.invocation
            pool.parallelFor(bands) { task, slot in
                let rows = ranges(task * chunks).rows
                mf_expand_dw_project_rows(params, x, Int32(rows.lowerBound), Int32(rows.upperBound),
                                          rings + slot * ringFloats, scratch + slot * scratchFloats,
                                          buffers + slot * bufferFloats, lists + slot * listInts,
                                          states + slot * Projection.ringStateStride, invocation)
            }
            return
        }
        let y = t.pointer(output, as: Float.self)
        pool.parallelFor(bands * chunks) { task, slot in
            let (rows, panels) = ranges(task)
            mf_expand_dw_rows(params, x, y, Int32(rows.lowerBound), Int32(rows.upperBound), Int32(panels.lowerBound),
                              Int32(panels.upperBound), rings + slot * ringFloats, scratch + slot * scratchFloats,
                              nil, 0)
        }
    }
}

/// Zero skipping, applied once after fusion: a pointwise float convolution whose input a ReLU wrote skips, per
/// 6-row tile, the input channels at which all six pixels are zero (`mf_gemm` with a list of live steps). In
/// MobileNetV2 the projections read a depthwise convolution's ReLU6 output, and its zeros run along whole channels:
/// 3-58% of a tile's steps are dead. The sums are the same (a skipped step adds 0 × w to every output; only
/// convolutions with finite weights skip, and only the sign of a zero result may differ), so the outputs are the
/// same values.
enum ZeroSkipping {
    /// Convolutions with fewer output channels are left dense: listing the live steps costs about as much as one
    /// 16-channel weight panel saves (C harness on MobileNetV2's activations: 0.83-1.08x for 16-32 channels,
    /// 1.06-1.69x for the 64-320-channel projections and 1.27x for the classifier).
    static let minimumOutputChannels = 64

    /// Switches skipping on where it applies and returns those operators' indices.
    static func apply(subgraph: Subgraph, codes: [BuiltinOperator], kernels: [Kernel],
                      scratch: ScratchAllocations) -> Set<Int> {
        var reluOutput = Set<Int>()
        var skipping = Set<Int>()
        for (i, kernel) in kernels.enumerated() {
            let op = subgraph.operators[i]
            if let conv = kernel as? FloatGEMMConv2D, conv.g.isPointwise, conv.g.outputDepth >= minimumOutputChannels,
               reluOutput.contains(conv.tensors.input), conv.canSkipZeroSteps {
                conv.skipZeroSteps(scratch: scratch)
                skipping.insert(i)
            }
            if let t = zeroFloorOutput(kernel) { reluOutput.insert(t) }
            // Pooling and reshaping keep whole zero channels zero (the classifier reads an average pool).
            switch codes[i] {
            case .averagePool2D, .maxPool2D, .reshape, .squeeze, .mean:
                if let x = op.inputs.first, reluOutput.contains(x) { reluOutput.formUnion(op.outputs) }
            default: break
            }
        }
        return skipping
    }

    /// The tensor a float kernel writes through a clamp at 0 (a fused ReLU or ReLU6), if it does.
    static func zeroFloorOutput(_ kernel: Kernel) -> Int? {
        switch kernel {
        case let k as FloatGEMMConv2D:
            if let add = k.residual { return add.lo == 0 ? add.output : nil }
            return k.lo == 0 ? k.tensors.output : nil
        case let k as CTaskKernel<mf_dw>: return k.params.pointee.lo == 0 ? k.output : nil
        case let k as FloatExpandDepthwise:
            if let p = k.projection { return zeroFloorOutput(p.conv) }
            return k.params.pointee.dw.lo == 0 ? k.output : nil
        default: return nil
        }
    }
}
