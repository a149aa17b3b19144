import CMagpieKernels
import MagpieModel

/// Optimized float32 kernels (pure Swift SIMD): CONV_2D as a packed-panel GEMM, DEPTHWISE_CONV_2D vectorized over
/// channels. Each factory returns nil when its fast path does not apply, so the reference kernel stays the fallback.
enum FloatKernels {
    /// Rows of output pixels (M) one microkernel call computes.
    static let tileRows = 6
    /// Output channels (N) in one packed weight panel: one SIMD16 vector.
    static let panelWidth = 16

    /// CONV_2D float32 as `output[M × N] = A[M × K] · Bᵀ + bias`, with M = output pixels, N = output channels and
    /// K = filter height × width × input channels (the OHWI filter's inner order).
    ///
    /// Applies to ungrouped convolutions with constant filter (and bias, if any). A 1×1, stride-1 convolution reads
    /// its A rows straight from the NHWC input. Any other shape works on 6-row tiles: on AVX2 + FMA hosts
    /// (`mf_conv_rows`) a tile whose windows lie inside the input reads each filter row's run of kw × C floats in
    /// place, and only the tiles that touch the padding are gathered; elsewhere every tile is gathered (im2col of 6
    /// output pixels, zeros for padding) into a per-task scratch buffer. (MobileNetV2's first layer: 0.51 ms with
    /// every tile gathered, 0.35 ms in place.)
    static func conv2D(_ context: inout PrepareContext, geometry g: ConvolutionGeometry, tensors: Conv2DTensors,
                       min lo: Float, max hi: Float) throws -> Kernel? {
        guard g.filterDepth == g.inputDepth, g.batches > 0, g.outputDepth > 0, g.inputDepth > 0 else { return nil }
        let filter = try context.input(1)
        guard let filterData = filter.constant else { return nil }
        var biasData: UnsafeRawBufferPointer? = nil
        if tensors.bias >= 0 {
            guard let b = context.optionalInput(2)?.constant else { return nil }
            biasData = b
        }
        let k = g.filterHeight * g.filterWidth * g.inputDepth
        let n = g.outputDepth
        guard filterData.count >= n * k * 4 else { return nil }
        let panels = (n + panelWidth - 1) / panelWidth
        let direct = g.isPointwise
        let m = g.batches * g.outputHeight * g.outputWidth
        // One pixel through a pointwise filter (a classifier head) on AVX2 + FMA: `mf_gemv_kmajor`, weights k-major
        // (row kk holds the N filters' weight kk, rounded up to 8 with zeros), so that a zero input skips a whole
        // row. Anything else: panel p holds, for each k, the 16 filters p·16 ..< p·16+16 (zeros past N).
        let kMajorStride = direct && m == 1 && avx2Available ? (n + 7) / 8 * 8 : 0
        if context.floatPrecision == .bfloat16 && direct && k >= bfloat16MinimumDepth && bfloat16Available
            && (m >= bfloat16MinimumRows || (m == 1 && mfa_cpu_supported() == 0)) {
            return amxConv2D(&context, geometry: g, tensors: tensors, filter: filterData, bias: biasData, k: k,
                             min: lo, max: hi)
        }
        let packed = context.allocate(Float.self, count: kMajorStride > 0 ? k * kMajorStride : panels * k * panelWidth)
        // 16 filters at a time, so that both layouts are written 64 bytes at a time (k-major rows one by one would
        // touch a new 4 KB row per weight: the classifier's packing took 40 ms that way).
        for p in 0..<panels {
            for kk in 0..<k {
                for j in 0..<min(panelWidth, n - p * panelWidth) {
                    let oc = p * panelWidth + j
                    let w = filterData.loadUnaligned(fromByteOffset: (oc * k + kk) * 4, as: Float.self)
                    packed[kMajorStride > 0 ? kk * kMajorStride + oc : (p * k + kk) * panelWidth + j] = w
                }
            }
        }
        let bias = context.allocate(Float.self, count: panels * panelWidth)
        if let biasData {
            for oc in 0..<n { bias[oc] = biasData.loadUnaligned(fromByteOffset: oc * 4, as: Float.self) }
        }
        // A small pointwise A (the 7x7 and 14x14 layers) stays in L2 while each weight panel is used for every
        // row tile in turn; with the row tiles outside, every tile would stream all the weights from L3 again.
        let panelsOuter = direct && m * k * MemoryLayout<Float>.size <= FloatKernels.panelsOuterLimit
        let plan = GEMMTaskPlan(rows: m, panels: panels, threads: context.pool.threadCount, panelsOuter: panelsOuter,
                                weightBytes: k * n * MemoryLayout<Float>.size)
        let scratch: UnsafeMutablePointer<Float>? = direct ? nil
            : context.allocate(Float.self, count: plan.taskCount * tileRows * k)
        var conv: UnsafeMutablePointer<mf_conv>? = nil
        if !direct && avx2Available {
            conv = context.allocate(mf_conv.self, count: 1)
            conv?.pointee = mf_conv(
                batches: Int32(g.batches), ih: Int32(g.inputHeight), iw: Int32(g.inputWidth), c: Int32(g.inputDepth),
                oh: Int32(g.outputHeight), ow: Int32(g.outputWidth), kh: Int32(g.filterHeight),
                kw: Int32(g.filterWidth), sh: Int32(g.strideHeight), sw: Int32(g.strideWidth),
                dh: Int32(g.dilationHeight), dw: Int32(g.dilationWidth), ph: Int32(g.padHeight),
                pw: Int32(g.padWidth), packed: UnsafePointer(packed), bias: UnsafePointer(bias), n: Int32(n),
                lo: lo, hi: hi, clamps: clamps(lo, hi) ? 1 : 0)
        }
        return FloatGEMMConv2D(geometry: g, tensors: tensors, packed: packed, bias: bias, k: k, panels: panels,
                               kMajorStride: kMajorStride, plan: plan, scratch: scratch, conv: conv,
                               pool: context.pool, min: lo, max: hi)
    }
}

extension FloatKernels {
    /// Whether the bfloat16 precision's GEMM runs on this CPU (`mfa_gemm_rows`, float_amx.c): on AMX-BF16 tiles
    /// (AMX-TILE, AMX-BF16 and AVX512_BF16, the tile state granted, `MAGPIE_MAX_ISA` none of `avx512`, `avx2` or
    /// `generic`), or with AVX512_BF16's VDPBF16PS on 512-bit registers (AVX-512 and AVX512_BF16, as AMD Zen 4 and
    /// later; `MAGPIE_MAX_ISA` neither `avx2` nor `generic`). Elsewhere the bfloat16 precision runs in float32.
    static let bfloat16Available = mfa_bf16_supported() != 0

    /// Pointwise convolutions in bfloat16 (the bfloat16 precision) need at least this many output pixels (one AMX
    /// tile has 16 rows), or a single one (a classifier) on AVX512_BF16, where halving the weights' bytes halves
    /// its time (with AMX the single pixel stays on the float32 matrix-vector product)...
    static let bfloat16MinimumRows = 16
    /// ...and at least this long a reduction. C harness, one thread, bfloat16 tiles against the float32 GEMM on
    /// MobileNetV2's shapes: K = 16 0.65x, K = 24 0.9x, K = 32 1.3x (their time is rounding A and storing through a
    /// buffer), K >= 64 2.3-5x; in the model the 112 x 112 32 -> 16 projection took 0.155 -> 0.117 ms. Expansions
    /// that are fused with their depthwise convolution use the tiles whatever their K (`KernelFusion`).
    static let bfloat16MinimumDepth = 32

    /// CONV_2D 1x1 stride 1 in bfloat16 (`FloatPrecision.bfloat16`; `mfa_gemm_rows` runs AMX tiles or AVX512_BF16):
    /// the filter rounded to bfloat16 once, each row block of A when it is multiplied, float32 sums, bias and clamp.
    static func amxConv2D(_ context: inout PrepareContext, geometry g: ConvolutionGeometry, tensors: Conv2DTensors,
                          filter: UnsafeRawBufferPointer, bias biasData: UnsafeRawBufferPointer?, k: Int,
                          min lo: Float, max hi: Float) -> Kernel {
        let n = g.outputDepth, panels = (n + panelWidth - 1) / panelWidth
        let m = g.batches * g.outputHeight * g.outputWidth
        let bias = context.allocate(Float.self, count: panels * panelWidth)
        if let biasData {
            for oc in 0..<n { bias[oc] = biasData.loadUnaligned(fromByteOffset: oc * 4, as: Float.self) }
        }
        let params = amxGEMM(context.scratch, k: k, n: n, bias: bias, lo: lo, hi: hi) { oc, kk in
            filter.loadUnaligned(fromByteOffset: (oc * k + kk) * 4, as: Float.self)
        }
        // 32-row blocks by pairs of panels (four accumulator tiles).
        let plan = TaskGrid(rowBlocks: (m + 31) / 32, columnGroups: (panels + 1) / 2, threads: context.pool.threadCount)
        let bufferCount = Int(mfa_abuf_count(Int32(k)))
        let buffers = context.allocate(UInt16.self, count: plan.count * bufferCount)
        let amx = FloatGEMMConv2D.AMX(params: params, plan: plan, buffers: buffers,
                                      bufferCount: bufferCount)
        return FloatGEMMConv2D(geometry: g, tensors: tensors, packed: context.allocate(Float.self, count: 1),
                               bias: bias, k: k, panels: panels,
                               plan: GEMMTaskPlan(rows: m, panels: panels, threads: 1),
                               scratch: nil, conv: nil, pool: context.pool, min: lo, max: hi, amx: amx)
    }
}

extension FloatKernels {
    /// `mfa_gemm_rows`'s parameters for a filter of n rows of k weights (`weight(oc, kk)`), rounded to bfloat16 and
    /// packed; `bias` holds the output channels rounded up to panels of 16.
    static func amxGEMM(_ scratch: ScratchAllocations, k: Int, n: Int, bias: UnsafePointer<Float>, lo: Float,
                        hi: Float, weight: (Int, Int) -> Float) -> UnsafePointer<mfa_gemm> {
        let weights = [Float](unsafeUninitializedCapacity: n * k) { buffer, count in
            for oc in 0..<n { for kk in 0..<k { buffer[oc * k + kk] = weight(oc, kk) } }
            count = n * k
        }
        let packed = scratch.allocate(UInt16.self, count: Int(mfa_packed_count(Int32(k), Int32(n))))
        mfa_pack(weights, Int32(k), Int32(n), mfa_kp(Int32(k)), packed)
        let params = scratch.allocate(mfa_gemm.self, count: 1)
        params.pointee = mfa_gemm(k: Int32(k), kp: mfa_kp(Int32(k)), n: Int32(n), b: UnsafePointer(packed),
                                  bias: bias, lo: lo, hi: hi, clamps: clamps(lo, hi) ? 1 : 0, skips: 0)
        return UnsafePointer(params)
    }

    /// Whether a bfloat16 GEMM may skip the steps at which its input is zero (`mfa_gemm.skips`): only its AVX512_BF16
    /// form does, and only with finite bfloat16 weights (rounding can carry a float beyond bfloat16's range to
    /// infinity, and 0 x inf is NaN in the dense sum).
    static func bfloat16CanSkipZeros(_ params: UnsafePointer<mfa_gemm>) -> Bool {
        guard mfa_cpu_supported() == 0 else { return false }
        let p = params.pointee
        let count = Int(mfa_packed_count(p.k, p.n))
        return !(0..<count).contains { p.b[$0] & 0x7f80 == 0x7f80 }
    }
}

/// Runs of whole pairs of 16-channel weight panels (the 6 × 32 tile's width), for tasks that split a kernel's
/// panels: `groups` runs, an odd last panel in the last run. Shared by `GEMMTaskPlan` and the fused expansion and
/// depthwise pairs (`FloatExpandDepthwise`).
enum PanelPairs {
    /// Pairs in `panels` panels (one where there is a single panel).
    static func count(_ panels: Int) -> Int { max(1, panels / 2) }

    /// Panels of run `group` of `groups` (`groups` at most `count(panels)`).
    static func range(_ group: Int, of groups: Int, panels: Int) -> Range<Int> {
        let pairs = count(panels)
        return 2 * (pairs * group / groups) ..< (group == groups - 1 ? panels : 2 * (pairs * (group + 1) / groups))
    }
}

/// How a GEMM of `rows` output rows and `panels` weight panels is cut into pool tasks: a grid of row groups
/// (whole 6-row tiles) by panel groups. One thread gets one task. With more threads, a GEMM that runs its panels
/// in the outer loop (`panelsOuter`) splits the rows, about four groups per thread, where its weights are at most
/// `sharedWeightLimit` bytes (each thread then reads the rows it wrote in the previous operator: two threads, the
/// 14 × 14 192 → 64 projection 0.068 → 0.030 ms), else the panels only, an equal share per thread in up to four
/// runs of whole pairs, so that each panel is read once; any other gets about eight tasks per thread, over rows
/// first (up to twice that many tiles get a group each) and over panels only when the tiles are few.
struct GEMMTaskPlan {
    let rowGroups: Int, panelGroups: Int, tiles: Int, panels: Int
    let panelsOuter: Bool
    /// Nonzero where panel groups are cut per thread: thread t's share of the panels (`panels * t / shares ..<
    /// panels * (t + 1) / shares`) in `groupsPerShare` runs of whole pairs, an odd panel in its last run.
    private(set) var shares = 0, groupsPerShare = 0
    var taskCount: Int { rowGroups * panelGroups }
    /// Weight bytes up to which a panels-outer GEMM splits rows rather than panels.
    static let sharedWeightLimit = 256 * 1024

    init(rows: Int, panels: Int, threads: Int, panelsOuter: Bool = false, weightBytes: Int = .max) {
        tiles = (rows + FloatKernels.tileRows - 1) / FloatKernels.tileRows
        self.panels = panels
        self.panelsOuter = panelsOuter
        if threads <= 1 {
            rowGroups = 1; panelGroups = 1
            return
        }
        if panelsOuter && weightBytes <= Self.sharedWeightLimit && tiles >= threads * 2 {
            // Weights this small are cheap for every thread to read, and row groups keep each thread on the rows
            // that it (the previous operator split rows too) has in its own cache.
            rowGroups = min(tiles, threads * 4); panelGroups = 1
            return
        }
        if panelsOuter && panels >= threads {
            // Split the rows too and every row group would stream all the weights again. Each thread gets an
            // equal share of the panels (the pool starts slot t on the t-th share of the tasks), cut into up to
            // four runs of whole pairs, the 6 x 32 tile's width. Session 14 cut all the panels into pairs instead,
            // so that the 7 x 7 layers' 10 panels made 5 tasks, 3 for one thread and 2 for the other; single
            // panels (eight groups, six of them one panel on a 6 x 16 tile) had been slower still.
            rowGroups = 1
            shares = threads
            groupsPerShare = min(4, PanelPairs.count(panels / threads))
            panelGroups = threads * groupsPerShare
            return
        }
        let target = threads * 8
        if tiles > target * 2 {
            rowGroups = target; panelGroups = 1
        } else if tiles >= target {
            rowGroups = tiles; panelGroups = 1
        } else {
            rowGroups = tiles
            panelGroups = max(1, min(panels, (target + tiles - 1) / tiles))
        }
    }

    /// Tile range and panel range of `task`.
    func ranges(_ task: Int) -> (tiles: Range<Int>, panels: Range<Int>) {
        let rg = task / panelGroups, pg = task % panelGroups
        let tileRange = tiles * rg / rowGroups ..< tiles * (rg + 1) / rowGroups
        guard shares > 0 else {
            return (tileRange, panels * pg / panelGroups ..< panels * (pg + 1) / panelGroups)
        }
        let share = pg / groupsPerShare
        let first = panels * share / shares, end = panels * (share + 1) / shares
        let run = PanelPairs.range(pg % groupsPerShare, of: groupsPerShare, panels: end - first)
        return (tileRange, first + run.lowerBound ..< first + run.upperBound)
    }
}

/// The CONV_2D GEMM kernel. Blocking: for each 6-row tile of output pixels (its A rows, ≤ 6·K floats, stay in L1)
/// every 16-channel weight panel (K·16 floats, streamed from L1/L2) is multiplied by the 6×16 register microkernel
/// (6 SIMD16 accumulators, K loop innermost), which starts from the bias and clamps on the store.
final class FloatGEMMConv2D: Kernel {
    let g: ConvolutionGeometry
    let tensors: Conv2DTensors
    let packed: UnsafeMutablePointer<Float>
    let bias: UnsafeMutablePointer<Float>
    let k: Int, panels: Int
    /// Nonzero when `packed` is k-major with this row stride (one output pixel on AVX2 + FMA: `mf_gemv_kmajor`);
    /// zero for 16-wide panels. Tasks still split the outputs by panels of 16.
    let kMajorStride: Int
    let plan: GEMMTaskPlan
    let scratch: UnsafeMutablePointer<Float>?
    /// The windowed convolution's parameters for `mf_conv_rows` (AVX2 + FMA hosts, non-pointwise shapes).
    let conv: UnsafePointer<mf_conv>?
    let pool: ThreadPool
    let lo: Float, hi: Float
    /// `FloatKernels.avx2Available`, read once (a global `static let` costs a `swift_once` check per read).
    let avx2: Bool
    /// The ADD fused into this convolution's store (`ResidualAdd`): the kernel then writes the ADD's output.
    private(set) var residual: ResidualAdd? = nil
    /// The bfloat16 GEMM (`FloatKernels.amxConv2D`, AMX tiles or AVX512_BF16): then `packed` is unused.
    struct AMX {
        let params: UnsafePointer<mfa_gemm>
        /// Tasks over 32-row blocks and pairs of weight panels.
        let plan: TaskGrid
        /// `bufferCount` bf16 per task for `mfa_gemm_rows`'s split of A.
        let buffers: UnsafeMutablePointer<UInt16>
        let bufferCount: Int
    }
    let amx: AMX?
    /// With zero skipping on (`skipZeroSteps`), `liveInts` Int32 per task for `mf_gemm`'s lists of live steps.
    private(set) var live: UnsafeMutablePointer<Int32>? = nil
    private(set) var liveInts = 0

    init(geometry: ConvolutionGeometry, tensors: Conv2DTensors, packed: UnsafeMutablePointer<Float>,
         bias: UnsafeMutablePointer<Float>, k: Int, panels: Int, kMajorStride: Int = 0, plan: GEMMTaskPlan,
         scratch: UnsafeMutablePointer<Float>?, conv: UnsafeMutablePointer<mf_conv>?, pool: ThreadPool,
         min: Float, max: Float, amx: AMX? = nil) {
        self.amx = amx
        g = geometry; self.tensors = tensors; self.packed = packed; self.bias = bias; self.k = k
        self.panels = panels; self.kMajorStride = kMajorStride; self.plan = plan; self.scratch = scratch
        self.conv = conv.map { UnsafePointer($0) }
        self.pool = pool; lo = min; hi = max
        avx2 = FloatKernels.avx2Available
    }

    /// Whether `fuseResidualAdd` applies: a pointwise GEMM of more than one row on an AVX2 + FMA host, or on AMX.
    var canFuseResidualAdd: Bool {
        (avx2 || amx != nil) && scratch == nil && conv == nil && kMajorStride == 0
            && g.batches * g.outputHeight * g.outputWidth > 1
    }

    /// From now on each output is `clamp(convolution + residual, add.lo, add.hi)`, written to `add.output`.
    func fuseResidualAdd(_ add: ResidualAdd) {
        precondition(canFuseResidualAdd && residual == nil)
        residual = add
    }

    /// The tensor this kernel writes: the convolution's output, or the fused ADD's.
    var writes: Int { residual?.output ?? tensors.output }

    /// Whether `skipZeroSteps` applies: a pointwise GEMM (A read in place) on an AVX2 + FMA host, with finite
    /// weights (a skipped 0 × inf would be NaN in the dense sum); or the bfloat16 GEMM in its AVX512_BF16 form
    /// (`FloatKernels.bfloat16CanSkipZeros`).
    var canSkipZeroSteps: Bool {
        if let amx { return FloatKernels.bfloat16CanSkipZeros(amx.params) }
        return avx2 && scratch == nil && finiteWeights
    }
    private lazy var finiteWeights = FloatKernels.allFinite(
        UnsafePointer(packed), count: kMajorStride > 0 ? k * kMajorStride : panels * k * FloatKernels.panelWidth)

    /// From now on each row tile multiplies only the steps k at which one of its A rows is nonzero (`mf_gemm`'s
    /// `ks`). Same sums (the skipped terms are 0 x w); worth it where A is a ReLU's output (see `ZeroSkipping`).
    func skipZeroSteps(scratch allocations: ScratchAllocations) {
        guard canSkipZeroSteps, live == nil else { return }
        if let amx {
            // The parameters live in plan-owned scratch memory, written once here at prepare.
            UnsafeMutablePointer(mutating: amx.params).pointee.skips = 1
            return
        }
        let rows = g.batches * g.outputHeight * g.outputWidth
        liveInts = Int(mf_gemm_live_ints(Int32(k), Int32(rows), plan.panelsOuter || rows == 1 ? 1 : 0))
        live = allocations.allocate(Int32.self, count: (sharesLists ? 1 : plan.taskCount) * liveInts)
    }

    /// Whether the tasks split the weight panels of one panels-outer block: then `invoke` lists the live steps once
    /// and every task reads the same lists (at 2 threads, eight tasks each listing all of a 7x7 layer's tiles cost
    /// 12% of its time).
    private var sharesLists: Bool {
        plan.panelsOuter && plan.rowGroups == 1 && plan.panelGroups > 1
            && g.batches * g.outputHeight * g.outputWidth > 1
    }

    func invoke(_ t: TensorBuffers) throws {
        let input = UnsafePointer(t.pointer(tensors.input, as: Float.self))
        let output = t.pointer(writes, as: Float.self)
        let add = residual.map { UnsafePointer(t.pointer($0.input, as: Float.self)) }
        if let amx {
            let k = Int32(k), n = g.outputDepth, lo = residual?.lo ?? 0, hi = residual?.hi ?? 0
            let plan = amx.plan, rows = g.batches * g.outputHeight * g.outputWidth, panels = self.panels
            func run(_ task: Int) {
                let (blocks, pairs) = plan.ranges(task)
                mfa_gemm_rows(amx.params, input, k, output, Int32(n), Int32(blocks.lowerBound * 32),
                              Int32(min(blocks.upperBound * 32, rows)), Int32(pairs.lowerBound * 2),
                              Int32(min(pairs.upperBound * 2, panels)), amx.buffers + task * amx.bufferCount, add,
                              lo, hi)
            }
            if plan.count == 1 { run(0) } else { pool.parallelFor(plan.count, run) }
            return
        }
        if plan.taskCount == 1 {
            run(task: 0, input: input, output: output, add: add)
        } else {
            if let live, sharesLists {
                mf_gemm_list_live_steps(Int32(k), input, Int32(k), Int32(g.batches * g.outputHeight * g.outputWidth),
                                        live)
            }
            pool.parallelFor(plan.taskCount) { task in run(task: task, input: input, output: output, add: add) }
        }
    }

    @inline(__always)
    private func run(task: Int, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
                     add: UnsafePointer<Float>?) {
        let (tiles, panelRange) = plan.ranges(task)
        let rows = g.batches * g.outputHeight * g.outputWidth
        let n = g.outputDepth
        let tile = FloatKernels.tileRows
        let ks = sharesLists ? live : live.map { $0 + task * liveInts }
        if kMajorStride > 0 {
            // Skipping a zero input skips a whole k-major weight row.
            let w = FloatKernels.panelWidth
            mf_gemv_kmajor(Int32(k), input, packed, Int32(kMajorStride), bias, output, Int32(panelRange.lowerBound * w),
                           Int32(min(panelRange.upperBound * w, n)), lo, hi, FloatKernels.clamps(lo, hi) ? 1 : 0, ks)
            return
        }
        if scratch == nil && rows == 1 {
            // One output pixel (a fully connected layer as a 1x1 convolution): a matrix-vector product.
            FloatKernels.rowTimesPanels(avx2: avx2, k: k, a: input, panels: panelRange,
                                        packed: UnsafePointer(packed), bias: UnsafePointer(bias), c: output, n: n,
                                        lo: lo, hi: hi)
            return
        }
        let rowRange = tiles.lowerBound * tile ..< min(tiles.upperBound * tile, rows)
        guard !rowRange.isEmpty else { return }
        guard let scratch else {
            FloatKernels.block(avx2: avx2, k: k, a: input + rowRange.lowerBound * k, rows: rowRange.count,
                               packed: UnsafePointer(packed), bias: UnsafePointer(bias),
                               c: output + rowRange.lowerBound * n, n: n, panels: panelRange,
                               panelsOuter: plan.panelsOuter, lo: lo, hi: hi, live: ks, listsReady: sharesLists,
                               residual: residual.map {
                                   .init(add: add! + rowRange.lowerBound * n, lo: $0.lo, hi: $0.hi)
                               })
            return
        }
        let buffer = scratch + task * tile * k
        if let conv {
            mf_conv_rows(conv, input, output + rowRange.lowerBound * n, Int32(rowRange.lowerBound),
                         Int32(rowRange.count), Int32(panelRange.lowerBound), Int32(panelRange.upperBound), buffer)
            return
        }
        for row0 in stride(from: rowRange.lowerBound, to: rowRange.upperBound, by: tile) {
            let count = min(tile, rows - row0)
            gather(rows: row0, count: count, input: input, into: buffer)
            FloatKernels.block(avx2: avx2, k: k, a: UnsafePointer(buffer), rows: count, packed: UnsafePointer(packed),
                               bias: UnsafePointer(bias), c: output + row0 * n, n: n, panels: panelRange,
                               panelsOuter: false, lo: lo, hi: hi)
        }
    }

    /// im2col of output pixels `first ..< first + count` into `buffer` (row stride K), zeros outside the input.
    private func gather(rows first: Int, count: Int, input: UnsafePointer<Float>, into buffer: UnsafeMutablePointer<Float>) {
        let c = g.inputDepth
        for r in 0..<count {
            let m = first + r
            let ox = m % g.outputWidth
            let oy = (m / g.outputWidth) % g.outputHeight
            let b = m / (g.outputWidth * g.outputHeight)
            let originY = oy * g.strideHeight - g.padHeight
            let originX = ox * g.strideWidth - g.padWidth
            var dst = buffer + r * k
            // With dilation 1 and the window inside the input horizontally, each filter row is one contiguous run.
            let run = g.filterWidth * c
            let insideX = g.dilationWidth == 1 && originX >= 0 && originX + g.filterWidth <= g.inputWidth
            for fy in 0..<g.filterHeight {
                let y = originY + fy * g.dilationHeight
                if insideX {
                    if y < 0 || y >= g.inputHeight {
                        dst.update(repeating: 0, count: run)
                    } else {
                        dst.update(from: input + ((b * g.inputHeight + y) * g.inputWidth + originX) * c, count: run)
                    }
                    dst += run
                    continue
                }
                for fx in 0..<g.filterWidth {
                    let x = originX + fx * g.dilationWidth
                    if y < 0 || y >= g.inputHeight || x < 0 || x >= g.inputWidth {
                        dst.update(repeating: 0, count: c)
                    } else {
                        dst.update(from: input + ((b * g.inputHeight + y) * g.inputWidth + x) * c, count: c)
                    }
                    dst += c
                }
            }
        }
    }
}

extension FloatKernels {
    /// C[rows × columns] = clamp(bias + A[rows × K] · B), B one packed panel (K × 16, row-major), rows ≤ 6,
    /// columns ≤ 16: six SIMD16 accumulators. On an AVX2 host (this machine's `-target-cpu native` is znver3,
    /// 16 ymm registers) LLVM splits each SIMD16 into two 256-bit halves, so the tile holds 12 registers of
    /// accumulators, 2 for the B row and 1 for the broadcast A value; larger tiles spill. Missing rows
    /// (rows < 6) re-read the last row and are not stored.
    @inline(__always)
    static func microkernel(k: Int, a: UnsafePointer<Float>, aStride: Int, rows: Int,
                            b: UnsafePointer<Float>, bias: UnsafePointer<Float>,
                            c: UnsafeMutablePointer<Float>, cStride: Int, columns: Int, lo: Float, hi: Float) {
        typealias V = SIMD16<Float>
        let last = rows - 1
        let a0 = a, a1 = a + Swift.min(1, last) * aStride, a2 = a + Swift.min(2, last) * aStride
        let a3 = a + Swift.min(3, last) * aStride, a4 = a + Swift.min(4, last) * aStride
        let a5 = a + Swift.min(5, last) * aStride
        let braw = UnsafeRawPointer(b)
        let bias0 = UnsafeRawPointer(bias).loadUnaligned(as: V.self)
        var c0 = bias0, c1 = bias0, c2 = bias0, c3 = bias0, c4 = bias0, c5 = bias0
        var i = 0
        while i < k {
            let b0 = braw.load(fromByteOffset: i * 64, as: V.self)
            c0 = c0.addingProduct(V(repeating: a0[i]), b0)
            c1 = c1.addingProduct(V(repeating: a1[i]), b0)
            c2 = c2.addingProduct(V(repeating: a2[i]), b0)
            c3 = c3.addingProduct(V(repeating: a3[i]), b0)
            c4 = c4.addingProduct(V(repeating: a4[i]), b0)
            c5 = c5.addingProduct(V(repeating: a5[i]), b0)
            i += 1
        }
        let clamps = lo > -Float.greatestFiniteMagnitude || hi < Float.greatestFiniteMagnitude
        storeRow(c, c0, columns: columns, clamps: clamps, lo: lo, hi: hi)
        if rows > 1 { storeRow(c + cStride, c1, columns: columns, clamps: clamps, lo: lo, hi: hi) }
        if rows > 2 { storeRow(c + 2 * cStride, c2, columns: columns, clamps: clamps, lo: lo, hi: hi) }
        if rows > 3 { storeRow(c + 3 * cStride, c3, columns: columns, clamps: clamps, lo: lo, hi: hi) }
        if rows > 4 { storeRow(c + 4 * cStride, c4, columns: columns, clamps: clamps, lo: lo, hi: hi) }
        if rows > 5 { storeRow(c + 5 * cStride, c5, columns: columns, clamps: clamps, lo: lo, hi: hi) }
    }

    /// Stores one row of a tile (`columns` of its 16 lanes) and applies the clamp. A static function rather than a
    /// nested one: the nested closure was compiled as an out-of-line call per row, with the vector passed through
    /// memory (2.6% of a float MobileNetV2 run in `perf`).
    @inline(__always)
    static func storeRow(_ p: UnsafeMutablePointer<Float>, _ v: SIMD16<Float>, columns: Int, clamps: Bool,
                         lo: Float, hi: Float) {
        if columns == 16 {
            UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD16<Float>.self)
            if clamps { clampInPlace(p, 16, lo, hi) }
        } else {
            storePartial(p, v, columns)
            if clamps { clampInPlace(p, columns, lo, hi) }
        }
    }

    /// Rows [0, rows) of A (row stride k) in 6-row tiles times weight panels `panels`, into `c` (row stride n):
    /// `mf_gemm` (C, AVX2 + FMA; one call for the whole block, whose per-tile calls cost less than Swift's) when
    /// `avx2` (the kernel's copy of `avx2Available`), else `microkernel`. Both sum each output from its bias in k
    /// order with one FMA per step, so they give the same bits. `live` (AVX2 only): scratch for `mf_gemm` to skip
    /// the steps at which a tile's A rows are all zero; `listsReady`: it holds the lists already (panels outer).
    @inline(__always)
    static func block(avx2: Bool, k: Int, a: UnsafePointer<Float>, rows: Int, packed: UnsafePointer<Float>,
                      bias: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>, n: Int, panels: Range<Int>,
                      panelsOuter: Bool, lo: Float, hi: Float, live: UnsafeMutablePointer<Int32>? = nil,
                      listsReady: Bool = false, residual: ResidualAdd.Operands? = nil) {
        if avx2 {
            mf_gemm(Int32(k), a, Int32(k), Int32(rows), packed, bias, c, Int32(n), Int32(n), Int32(panels.lowerBound),
                    Int32(panels.upperBound), panelsOuter ? (listsReady ? 2 : 1) : 0, lo, hi, clamps(lo, hi) ? 1 : 0,
                    live, residual?.add, residual?.lo ?? 0, residual?.hi ?? 0)
            return
        }
        precondition(residual == nil, "a residual ADD is fused only on AVX2 + FMA hosts")
        func run(_ p: Int, _ row0: Int) {
            microkernel(k: k, a: a + row0 * k, aStride: k, rows: min(tileRows, rows - row0),
                        b: packed + p * k * panelWidth, bias: bias + p * panelWidth, c: c + row0 * n + p * panelWidth,
                        cStride: n, columns: min(panelWidth, n - p * panelWidth), lo: lo, hi: hi)
        }
        if panelsOuter {
            for p in panels { for row0 in stride(from: 0, to: rows, by: tileRows) { run(p, row0) } }
        } else {
            for row0 in stride(from: 0, to: rows, by: tileRows) { for p in panels { run(p, row0) } }
        }
    }

    /// Whether `count` floats at `p` are all finite: the largest exponent field, an integer maximum LLVM vectorizes.
    static func allFinite(_ p: UnsafePointer<Float>, count: Int) -> Bool {
        var exponent: UInt32 = 0
        for i in 0..<count { exponent = max(exponent, p[i].bitPattern & 0x7f80_0000) }
        return exponent != 0x7f80_0000
    }

    /// Whether the C kernels must clamp: a bound tighter than the float range.
    @inline(__always)
    static func clamps(_ lo: Float, _ hi: Float) -> Bool {
        lo > -Float.greatestFiniteMagnitude || hi < Float.greatestFiniteMagnitude
    }

    /// Bytes of A up to which a pointwise GEMM runs weight panels in the outer loop (half this machine's L2).
    static let panelsOuterLimit = 256 * 1024

    /// C[1 × n] = clamp(bias + a[1 × K] · B) for the weight panels in `panels`, four panels (64 outputs) at a
    /// time: eight independent FMA chains instead of one, each output still summed from its bias in k order (the
    /// same bits as `microkernel`).
    @inline(__always)
    static func rowTimesPanels(avx2: Bool, k: Int, a: UnsafePointer<Float>, panels: Range<Int>,
                               packed: UnsafePointer<Float>, bias: UnsafePointer<Float>,
                               c: UnsafeMutablePointer<Float>, n: Int, lo: Float, hi: Float) {
        typealias V = SIMD16<Float>
        let clamps = lo > -Float.greatestFiniteMagnitude || hi < Float.greatestFiniteMagnitude
        var p = panels.lowerBound
        while p + 4 <= panels.upperBound {
            let b0 = UnsafeRawPointer(packed + p * k * panelWidth), b1 = b0 + k * 64, b2 = b1 + k * 64
            let b3 = b2 + k * 64
            let braw = UnsafeRawPointer(bias + p * panelWidth)
            var c0 = braw.loadUnaligned(as: V.self), c1 = braw.loadUnaligned(fromByteOffset: 64, as: V.self)
            var c2 = braw.loadUnaligned(fromByteOffset: 128, as: V.self)
            var c3 = braw.loadUnaligned(fromByteOffset: 192, as: V.self)
            var i = 0
            while i < k {
                let x = V(repeating: a[i])
                c0 = c0.addingProduct(x, b0.load(fromByteOffset: i * 64, as: V.self))
                c1 = c1.addingProduct(x, b1.load(fromByteOffset: i * 64, as: V.self))
                c2 = c2.addingProduct(x, b2.load(fromByteOffset: i * 64, as: V.self))
                c3 = c3.addingProduct(x, b3.load(fromByteOffset: i * 64, as: V.self))
                i += 1
            }
            let out = c + p * panelWidth, last = Swift.min(panelWidth, n - (p + 3) * panelWidth)
            storeRow(out, c0, columns: panelWidth, clamps: clamps, lo: lo, hi: hi)
            storeRow(out + panelWidth, c1, columns: panelWidth, clamps: clamps, lo: lo, hi: hi)
            storeRow(out + 2 * panelWidth, c2, columns: panelWidth, clamps: clamps, lo: lo, hi: hi)
            storeRow(out + 3 * panelWidth, c3, columns: last, clamps: clamps, lo: lo, hi: hi)
            p += 4
        }
        if p < panels.upperBound {
            block(avx2: avx2, k: k, a: a, rows: 1, packed: packed, bias: bias, c: c, n: n,
                  panels: p..<panels.upperBound, panelsOuter: true, lo: lo, hi: hi)
        }
    }

    /// `min(max(v, lo), hi)` per lane as a compare and blend. (The stdlib's generic `pointwiseMin`/`pointwiseMax`
    /// and `replacing(with:where:)` went lane by lane through the stack with this toolchain.)
    @inline(__always)
    static func clamp<V: SIMD>(_ v: V, _ lo: V, _ hi: V) -> V where V.Scalar == Float {
        var r = v
        withUnsafeMutableBytes(of: &r) { raw in
            let p = raw.baseAddress!.assumingMemoryBound(to: Float.self)
            clampInPlace(p, V.scalarCount, lo[0], hi[0])
        }
        return r
    }

    /// Clamps `count` floats at `p` to `[lo, hi]`: a plain compare-select loop, which LLVM vectorizes.
    @inline(__always)
    static func clampInPlace(_ p: UnsafeMutablePointer<Float>, _ count: Int, _ lo: Float, _ hi: Float) {
        var j = 0
        while j < count {
            var x = p[j]
            x = x < lo ? lo : x
            x = x > hi ? hi : x
            p[j] = x
            j += 1
        }
    }

    /// Stores the first `columns` (< 16) lanes of `v` at `p`.
    @inline(never)
    static func storePartial(_ p: UnsafeMutablePointer<Float>, _ v: SIMD16<Float>, _ columns: Int) {
        var j = 0
        while j < columns { p[j] = v[j]; j += 1 }
    }
}
