import Foundation
import CMagpieKernels
import MagpieModel

/// Optimized int8 / uint8 convolution kernels (C target `CMagpieKernels`), bit-exact with the reference kernels in
/// either arithmetic (`Requantization`: the records' fixed-point modes, or `MQ2_MODE_FLOAT` for XNNPACK's):
/// AVX2 on CPUs that have it (QuantizedConvAVX2.swift), and on AVX-512 VNNI CPUs a VNNI GEMM for the 1x1
/// convolutions (this file; the other convolutions and DEPTHWISE_CONV_2D keep the AVX2 kernels there).
/// Each factory returns nil where it does not apply (neither instruction set, non-constant filters, grouped
/// convolutions, ...), and the operator falls back to its reference kernel.
///
/// The VNNI path: CONV_2D is a GEMM over output pixels (rows) and output channels (columns). VPDPBUSD multiplies unsigned bytes by
/// signed bytes, so:
/// - int8 models: activations are flipped to uint8 (`x ^ 0x80 == x + 128`) as they are broadcast, and
///   `-(128 + zx) * sum(w)` is folded into each channel's bias;
/// - uint8 models: filters are stored as `w - 128` (int8), and the exact correction
///   `(w - zw)(x - zx) = (w - 128) x + (128 - zw) x - zx (w - zw)` adds `(128 - zw) * rowsum(x)` per pixel (computed
///   per row block) and folds `-zx * sum(w - zw)` into the bias.
/// All sums wrap modulo 2^32 exactly as the reference's int32 accumulator does, so the results are identical.
///
/// On CPUs with AMX-INT8 (Sapphire Rapids and later) the same GEMM runs on tiles (`mqa_gemm_task`, quantized_amx.c):
/// int8 activations are multiplied as they are (TDPBSSD, so the bias folds `-zx * sum(w)` without the 128), uint8
/// ones as for VNNI; the reduction is padded to whole 64-byte steps, rows go in blocks of 32 and columns in pairs of
/// 16-column panels, and the requantization is the same, so the bytes are too. There windowed convolutions (the
/// first layer) go to the GEMM as well, their receptive fields gathered per row block.
///
/// VNNI blocking: rows in blocks of 24 pixels, read in place when the reduction is a multiple of 4, else packed
/// into a stack buffer with the reduction padded to a multiple of 4;
/// for each block, columns in 64-wide panels with 6x64 register tiles (24 accumulators), and 8x48, 12x32 or
/// 24x16 tiles for the last 48/32/16 columns. Filters are packed at prepare as
/// `[columns/16][k/4][16 columns][4 k]`. Tasks for the thread pool split the row blocks, and the 64-wide column
/// groups when there are few rows (the 7x7 layers). Small windowed convolutions (MobileNetV2's first layer) gather
/// each receptive field into one 32-byte row per pixel where the CPU has AVX-512 VBMI (`mq_gather_windows`).
public enum QuantizedKernels {
    /// Whether this CPU runs the VNNI GEMM for CONV_2D (AVX-512 F/BW/VL/DQ and VNNI, and `MAGPIE_MAX_ISA` neither
    /// `avx2` nor `generic`). DEPTHWISE_CONV_2D keeps the AVX2 kernel there, except 3x3 layers on CPUs that also
    /// have VBMI (`vnniWindowedAvailable`), which take its VNNI run (`mqv_dw_run3`, quantized_avx2.c).
    public static let vnniAvailable: Bool = mq_cpu_supported() != 0

    /// Whether the VNNI GEMM also takes small windowed convolutions (MobileNetV2's first layer: 3x3 over 3
    /// channels), assembling each receptive field in a register with VPERMT2B (AVX-512 VBMI); the 3x3 depthwise
    /// layers then run on VNNI too (their columns gathered with VPERMB).
    static let vnniWindowedAvailable: Bool = mq_windowed_supported() != 0

    /// Whether CONV_2D runs on AMX tiles (`mqa_gemm_task`, quantized_amx.c; 1x1 and windowed, of at least 16 output
    /// pixels): VNNI, AMX-TILE and AMX-INT8, the tile state granted by the OS, and `MAGPIE_MAX_ISA` none of `avx512`,
    /// `avx2` or `generic`.
    public static let amxAvailable: Bool = mqa_cpu_supported() != 0

    /// Whether this CPU runs the AVX2 kernels (x86-64 with AVX2 and FMA).
    public static let avx2Available: Bool = mq2_cpu_supported() != 0

    /// The instruction set the optimized quantized convolutions use on this CPU: "amx-int8" (CONV_2D on AMX tiles,
    /// DEPTHWISE_CONV_2D on AVX-512), "avx512-vnni", "avx2", or nil where they run on the reference kernels.
    public static var instructionSet: String? {
        amxAvailable ? "amx-int8" : vnniAvailable ? "avx512-vnni" : avx2Available ? "avx2" : nil
    }

    /// A filter byte as the integer it stores: signed for int8 filters, unsigned for uint8.
    @inline(__always)
    static func filterValue(_ raw: UInt8, _ type: TensorType) -> Int32 {
        type == .int8 ? Int32(Int8(bitPattern: raw)) : Int32(raw)
    }

    /// The constant filter bytes and int32 bias values of a convolution, or nil when the filter (or the bias) is
    /// computed at run time (then the reference kernel runs).
    static func constants(_ context: PrepareContext, _ tensors: Conv2DTensors) throws
        -> (filter: UnsafeRawBufferPointer, bias: [Int32]?)? {
        let filter = try context.input(1)
        guard let filterData = filter.constant else { return nil }
        var biasValues: [Int32]? = nil
        if tensors.bias >= 0 {
            guard let b = try context.constantValues(2, as: Int32.self) else { return nil }
            biasValues = b
        }
        return (filterData, biasValues)
    }

    /// Rewrites the rounding constants of 16-lane requantization blocks (`MQ_RQ16_INTS` each, vectors 3 and 4: the
    /// even and odd lanes' 64-bit constants) for `mq5_rq_folded`: `2^30 + 2^(e+30) + zp * 2^(31+e)`, the output
    /// zero point folded in and no `2^62` offset. Returns the mode the kernel must run: `mode` itself, or
    /// `MQ2_MODE_GENERAL` (records left as they were) for GENERAL layers and where a right shift e lies outside
    /// 1...22 (then the sums could leave int64). FLOAT records have no rounding constants and stay as they are.
    /// `channel(i)` is lane i's channel, nil for padding lanes.
    static func foldZeroPoint(_ rq: UnsafeMutablePointer<Int32>, lanes: Int, channel: (Int) -> Int?,
                              parameters p: QuantizedConvolutionParameters, mode: Int32) -> Int32 {
        guard mode != Int32(MQ2_MODE_GENERAL), mode != Int32(MQ2_MODE_FLOAT) else { return mode }
        for i in 0..<lanes {
            guard let ch = channel(i) else { continue }
            guard (1...22).contains(-p.shifts[ch]) else { return Int32(MQ2_MODE_GENERAL) }
        }
        let raw = UnsafeMutableRawPointer(rq)
        for i in 0..<lanes {
            guard let ch = channel(i) else { continue }
            let e = Int64(-p.shifts[ch])
            let value = (Int64(1) << 30) + (Int64(1) << (e + 30)) + Int64(p.outputOffset) << (31 + e)
            let vector = i / 16 * Int(MQ_RQ16_INTS) / 16 + 3 + i % 2
            raw.storeBytes(of: value, toByteOffset: (vector * 16 * 4) + (i % 16) / 2 * 8, as: Int64.self)
        }
        return mode
    }

    /// The largest reduction a GEMM row block holds on the stack (24 x 4096 bytes).
    static let maxReduction = 4096

    /// The largest reduction of the AMX GEMM, which copies a layer's last row block (and every block of a windowed
    /// convolution) into a stack buffer of 32 rows (64 KB); longer ones run on VNNI or AVX2.
    static let amxMaxReduction = 2048

    /// CONV_2D (uint8 per-tensor or int8 per-channel), any window, stride, dilation and padding, without groups.
    static func conv2D(_ context: inout PrepareContext, geometry g: ConvolutionGeometry, tensors: Conv2DTensors,
                       parameters p: QuantizedConvolutionParameters, type: TensorType) throws -> Kernel? {
        guard type == .int8 || type == .uint8 else { return nil }
        guard g.filterDepth == g.inputDepth, g.batches > 0, g.outputHeight > 0, g.outputWidth > 0 else { return nil }
        // VNNI for the 1x1 convolutions and small windows (vnniConv2D declines the others): on the Xeon of sessions
        // 9-17, MobileNetV2's first layer (3x3 over 3 channels) took 1.16 ms through an im2col buffer and 0.59-0.96
        // ms with its windows gathered while packing, against 0.39-0.67 ms on the AVX2 kernel's register-packed
        // windows; since session 18 each window is one register (VPERMT2B) and one store. AMX takes windowed ones
        // too: its multiply-adds cost little next to the gathering.
        if vnniAvailable, let kernel = try vnniConv2D(&context, geometry: g, tensors: tensors, parameters: p, type: type) {
            return kernel
        }
        return avx2Available ? try avx2Conv2D(&context, geometry: g, tensors: tensors, parameters: p, type: type) : nil
    }

    /// A 1x1, stride-1 CONV_2D (its input is the GEMM's A as it is) through the VNNI or AMX GEMM, or any other
    /// CONV_2D through the AMX GEMM (rows gathered from the windows), or nil where neither applies (a reduction over
    /// `maxReduction`, a filter computed at run time, a shift the records cannot hold).
    static func vnniConv2D(_ context: inout PrepareContext, geometry g: ConvolutionGeometry, tensors: Conv2DTensors,
                           parameters p: QuantizedConvolutionParameters, type: TensorType) throws -> Kernel? {
        let n = g.outputDepth
        let k = g.filterHeight * g.filterWidth * g.inputDepth
        let m = g.batches * g.outputHeight * g.outputWidth
        // AMX steps through the reduction 64 bytes at a time (or all of it, when it is at most 64): the filter is
        // zero-padded to whole steps. Fewer rows than one tile's 16 stay on VNNI: the classifier's single pixel
        // (1280 -> 1001) took about 1.6 times as long on tiles, most of whose rows would be padding.
        let amx = amxAvailable && k <= amxMaxReduction && m >= 16
        // Windowed convolutions on AMX, which gathers their receptive fields, and small ones on VNNI (filter rows of
        // at most 16 contiguous bytes, at most 3 of them, 32 bytes in all): there each field is one 32-byte row
        // assembled in a register (MobileNetV2's first layer, AMD Zen 5, C harness: see docs/performance.md).
        let vnniWindow = vnniWindowedAvailable && g.filterWidth * g.inputDepth <= 16 && g.filterHeight <= 3
            && k <= 32 && g.dilationWidth == 1
        guard g.isPointwise || amx || vnniWindow else { return nil }
        guard let (filterData, biasValues) = try constants(context, tensors) else { return nil }
        let kp = amx && k > 64 ? (k + 63) & ~63 : (k + 3) & ~3
        let np = (n + 15) & ~15
        guard kp <= maxReduction, n > 0 else { return nil }
        let inputZeroPoint = -p.inputOffset, filterZeroPoint = -p.filterOffset

        // Packed filter and folded bias.
        let packed = context.allocate(Int8.self, count: np * kp)
        var bias = [Int32](repeating: 0, count: np)
        let bytes = filterData.bindMemory(to: UInt8.self)
        for c in 0..<n {
            var sum: Int32 = 0
            for kk in 0..<k {
                let raw = bytes[c * k + kk]
                let stored: Int8
                if type == .int8 {
                    stored = Int8(bitPattern: raw)
                    sum = sum &+ Int32(stored)
                } else {
                    stored = Int8(bitPattern: raw ^ 0x80)
                    sum = sum &+ (Int32(raw) - filterZeroPoint)
                }
                let offset = (((c / 16) * (kp / 4) + kk / 4) * 16 + c % 16) * 4 + kk % 4
                packed[offset] = stored
            }
            let b = biasValues?[c] ?? 0
            if type == .int8 {
                // VNNI flips int8 activations to uint8 (x + 128); AMX multiplies them as they are.
                bias[c] = b &- ((amx ? 0 : 128) &+ inputZeroPoint) &* sum
            } else {
                bias[c] = b &- inputZeroPoint &* sum
            }
        }
        // The AVX2 kernels' 8-lane requantization records (bias included), two side by side per 16 columns.
        guard let records = AVX2Requantization(
            &context, lanes: (0..<np).map { $0 < n ? $0 : nil }, bias: { bias[$0] }, parameters: p, type: type)
        else { return nil }
        let rq = records.sixteenLaneBlocks(&context)
        // The VNNI tiles requantize with mq5_rq_folded (AMX keeps mq5_rq on the records as they are).
        let mode = amx ? records.mode
            : foldZeroPoint(rq, lanes: np, channel: { $0 < n ? $0 : nil }, parameters: p, mode: records.mode)

        // Task grid: enough row blocks for every thread, and column groups when rows are scarce.
        let grid = TaskGrid(rowBlocks: amx ? (m + 31) / 32 : (m + 23) / 24,
                            columnGroups: amx ? (np / 16 + 1) / 2 : (np / 16 + 3) / 4,
                            threads: context.pool.threadCount)

        var window: UnsafeMutablePointer<mq_window>? = nil
        if !g.isPointwise {
            window = context.allocate(mq_window.self, count: 1)
            window?.pointee = mq_window(
                batches: Int32(g.batches), ih: Int32(g.inputHeight), iw: Int32(g.inputWidth), c: Int32(g.inputDepth),
                oh: Int32(g.outputHeight), ow: Int32(g.outputWidth), kh: Int32(g.filterHeight),
                kw: Int32(g.filterWidth), sh: Int32(g.strideHeight), sw: Int32(g.strideWidth),
                dh: Int32(g.dilationHeight), dw: Int32(g.dilationWidth), ph: Int32(g.padHeight), pw: Int32(g.padWidth),
                in_zp: inputZeroPoint)
        }
        let params = context.allocate(mq_gemm.self, count: 1)
        params.pointee = mq_gemm(
            m: Int32(m), k: Int32(k), kp: Int32(kp), n: Int32(n), np: Int32(np),
            a: nil, a_stride: Int32(k), a_size: Int64(g.batches * g.inputHeight * g.inputWidth * g.inputDepth),
            b: UnsafePointer(packed),
            rq: UnsafePointer(rq), rq_mode: mode, act_min: p.activationMin, act_max: p.activationMax,
            flip: type == .int8 ? 1 : 0, row_corr: type == .int8 ? 0 : 128 - filterZeroPoint,
            c: nil, c_stride: Int32(n), m_tasks: Int32(grid.rowTasks), n_tasks: Int32(grid.columnTasks),
            window: window.map { UnsafePointer($0) })

        return QuantizedGemmConv2D(tensors: tensors, params: params, tasks: grid.count, amx: amx,
                                   pool: context.pool)
    }

    /// DEPTHWISE_CONV_2D (uint8 per-tensor or int8 per-channel) with depth multiplier 1 and at most 64 taps.
    static func depthwiseConv2D(_ context: inout PrepareContext, geometry g: ConvolutionGeometry,
                                tensors: Conv2DTensors, parameters p: QuantizedConvolutionParameters,
                                type: TensorType) throws -> Kernel? {
        guard avx2Available, type == .int8 || type == .uint8 else { return nil }
        guard g.outputDepth == g.inputDepth, g.filterHeight * g.filterWidth <= 64 else { return nil }
        guard g.batches > 0, g.outputHeight > 0, g.outputWidth > 0 else { return nil }
        guard let (filterData, biasValues) = try constants(context, tensors) else { return nil }
        // The AVX2 kernel, also on AVX-512 VNNI CPUs: there it took 1.3-2.1 ms per MobileNetV2 against 2.4-3.6 for
        // a VNNI-era kernel that multiplied in int32 (one VPMULLD per tap), which was then removed.
        return avx2DepthwiseConv2D(&context, geometry: g, tensors: tensors, parameters: p, type: type,
                                   filter: filterData, bias: biasValues)
    }
}

/// A CONV_2D through the VNNI GEMM (1x1, stride 1: its input is the GEMM's A) or the AMX GEMM.
final class QuantizedGemmConv2D: Kernel {
    let tensors: Conv2DTensors
    let params: UnsafeMutablePointer<mq_gemm>
    let tasks: Int
    let amx: Bool
    let pool: ThreadPool

    init(tensors: Conv2DTensors, params: UnsafeMutablePointer<mq_gemm>, tasks: Int, amx: Bool, pool: ThreadPool) {
        self.tensors = tensors; self.params = params; self.tasks = tasks; self.amx = amx; self.pool = pool
    }

    func invoke(_ t: TensorBuffers) throws {
        params.pointee.a = UnsafePointer(t.pointer(tensors.input, as: UInt8.self))
        params.pointee.c = t.pointer(tensors.output, as: UInt8.self)
        let params = self.params
        if amx {
            pool.parallelFor(tasks) { task in mqa_gemm_task(params, Int32(task)) }
        } else {
            pool.parallelFor(tasks) { task in mq_gemm_task(params, Int32(task)) }
        }
    }
}

/// A kernel whose work is a C function over a parameter block, split into independent tasks on the pool: `bind`
/// stores the run's input and output addresses in the block, then `run(params, task, tasks)` runs every task.
final class CTaskKernel<Params>: Kernel {
    let input: Int, output: Int
    let params: UnsafeMutablePointer<Params>
    let tasks: Int
    let pool: ThreadPool
    let bind: (UnsafeMutablePointer<Params>, UnsafePointer<UInt8>, UnsafeMutablePointer<UInt8>) -> Void
    let run: (UnsafePointer<Params>, Int, Int) -> Void

    init(input: Int, output: Int, params: UnsafeMutablePointer<Params>, tasks: Int, pool: ThreadPool,
         bind: @escaping (UnsafeMutablePointer<Params>, UnsafePointer<UInt8>, UnsafeMutablePointer<UInt8>) -> Void,
         run: @escaping (UnsafePointer<Params>, Int, Int) -> Void) {
        self.input = input; self.output = output; self.params = params; self.tasks = tasks; self.pool = pool
        self.bind = bind; self.run = run
    }

    /// A depthwise kernel over `rows` output rows: one task on one thread, else about eight per thread.
    static func rows(_ rows: Int, tensors: Conv2DTensors, params: UnsafeMutablePointer<Params>, pool: ThreadPool,
                     bind: @escaping (UnsafeMutablePointer<Params>, UnsafePointer<UInt8>, UnsafeMutablePointer<UInt8>) -> Void,
                     body: @escaping (UnsafePointer<Params>, Int32, Int32) -> Void) -> CTaskKernel {
        CTaskKernel(input: tensors.input, output: tensors.output, params: params,
                    tasks: min(rows, pool.threadCount == 1 ? 1 : pool.threadCount * 8), pool: pool, bind: bind) {
            p, task, tasks in body(p, Int32(rows * task / tasks), Int32(rows * (task + 1) / tasks))
        }
    }

    func invoke(_ t: TensorBuffers) throws {
        bind(params, UnsafePointer(t.pointer(input, as: UInt8.self)), t.pointer(output, as: UInt8.self))
        let params = UnsafePointer(self.params), tasks = self.tasks, run = self.run
        pool.parallelFor(tasks) { task in run(params, task, tasks) }
    }
}
