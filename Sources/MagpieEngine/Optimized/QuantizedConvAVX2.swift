import CMagpieKernels
import MagpieModel

/// CONV_2D on x86-64 CPUs with AVX2 but without AVX-512 VNNI (`mq2_gemm_task` in quantized_avx2.c).
///
/// A GEMM over output pixels (rows) and output channels (columns) on int16 operands with the zero points removed:
/// VPMADDWD multiplies pairs exactly, so no correction terms are needed and the output is byte-identical to the
/// reference kernels' in the same arithmetic (`Requantization`). The filter is packed once here as
/// `[columns/16][k/2][16 columns][2 k]` int16 (`w - zw`); A rows are widened (`x - zx`) block by block inside each
/// task, straight from the input tensor: a pixel for 1x1 stride-1
/// convolutions, its receptive field otherwise (im2col on the fly, no whole-tensor buffer). A GEMM of one row (a
/// classifier) keeps the filter in bytes instead, widened as it is read: it is memory-bound. A GEMM of at most 64
/// rows is widened whole and reads each filter panel once.
///
/// Tasks split blocks of 24 rows over the pool, about eight tasks per thread; when there are fewer blocks than two
/// per thread (the 7x7 layers), the 16-column panels instead, one task per thread.
extension QuantizedKernels {
    static func avx2Conv2D(_ context: inout PrepareContext, geometry g: ConvolutionGeometry, tensors: Conv2DTensors,
                           parameters p: QuantizedConvolutionParameters, type: TensorType) throws -> Kernel? {
        guard let (filterData, biasValues) = try constants(context, tensors) else { return nil }
        let n = g.outputDepth
        let k = g.filterHeight * g.filterWidth * g.inputDepth
        let kp = (k + 1) & ~1
        let np = (n + 15) & ~15
        guard kp <= maxReduction, n > 0 else { return nil }
        let m = g.batches * g.outputHeight * g.outputWidth
        let filterZeroPoint = -p.filterOffset

        let bytes = filterData.bindMemory(to: UInt8.self)
        func position(_ c: Int, _ kk: Int) -> Int { ((c / 16) * (kp / 2) + kk / 2) * 32 + (c % 16) * 2 + kk % 2 }
        var packed: UnsafeMutablePointer<Int16>? = nil, packedBytes: UnsafeMutablePointer<UInt8>? = nil
        if m == 1 {
            // One output row (a classifier): the product streams the filter once and does little else, so the
            // filter stays in bytes (half the traffic of int16), widened as it is read. Padding bytes hold the
            // zero point, so that they widen to 0.
            let b8 = context.allocate(UInt8.self, count: np * kp)
            b8.initialize(repeating: UInt8(truncatingIfNeeded: filterZeroPoint), count: np * kp)
            for c in 0..<n {
                for kk in 0..<k { b8[position(c, kk)] = bytes[c * k + kk] }
            }
            packedBytes = b8
        } else {
            let b16 = context.allocate(Int16.self, count: np * kp)  // zero-filled: the padding widens to 0
            for c in 0..<n {
                for kk in 0..<k { b16[position(c, kk)] = Int16(filterValue(bytes[c * k + kk], type) - filterZeroPoint) }
            }
            packed = b16
        }
        guard let records = AVX2Requantization(
            &context, lanes: (0..<np).map { $0 < n ? $0 : nil }, bias: { biasValues?[$0] ?? 0 }, parameters: p,
            type: type)
        else { return nil }
        let threads = context.pool.threadCount
        let rowBlocks = (m + 23) / 24
        var mTasks = 1, nTasks = 1
        if threads > 1 && rowBlocks < threads * 2 && np / 16 >= threads {
            // Few row blocks (the 7x7 layers: 24 + 24 + 1 rows): one task per thread over the panels, so that the
            // work divides evenly and each thread widens the rows once. Splitting the rows too left one thread
            // with three times the other's work.
            nTasks = threads
        } else if threads > 1 {
            // About eight tasks per thread: the threads meet within an eighth of their share. Up to twice that many
            // row blocks each get a task of their own (9 blocks over 8 tasks gave one task twice the others' work),
            // and the panels split further when the blocks are few.
            let wanted = threads * 8
            mTasks = rowBlocks <= wanted * 2 ? rowBlocks : wanted
            if mTasks < wanted { nTasks = min(np / 16, max(1, (wanted + mTasks - 1) / mTasks)) }
        }

        let params = context.allocate(mq2_gemm.self, count: 1)
        params.pointee = mq2_gemm(
            m: Int32(m), k: Int32(k), kp: Int32(kp), n: Int32(n), np: Int32(np),
            a: nil, a_stride: Int32(k), a_size: Int64(g.batches * g.inputHeight * g.inputWidth * g.inputDepth),
            windowed: g.isPointwise ? 0 : 1,
            batches: Int32(g.batches), ih: Int32(g.inputHeight), iw: Int32(g.inputWidth), c: Int32(g.inputDepth),
            oh: Int32(g.outputHeight), ow: Int32(g.outputWidth), kh: Int32(g.filterHeight), kw: Int32(g.filterWidth),
            sh: Int32(g.strideHeight), sw: Int32(g.strideWidth), dh: Int32(g.dilationHeight),
            dw: Int32(g.dilationWidth), ph: Int32(g.padHeight), pw: Int32(g.padWidth),
            in_zp: -p.inputOffset, is_signed: type == .int8 ? 1 : 0,
            b: packed.map { UnsafePointer($0) }, b8: packedBytes.map { UnsafePointer($0) }, b8_zp: filterZeroPoint,
            rq: UnsafePointer(records.records), rq_mode: records.mode,
            act_min: p.activationMin, act_max: p.activationMax,
            c_out: nil, c_stride: Int32(n), m_tasks: Int32(mTasks), n_tasks: Int32(nTasks))
        return CTaskKernel(input: tensors.input, output: tensors.output, params: params, tasks: mTasks * nTasks,
                           pool: context.pool,
                           bind: { p, input, output in p.pointee.a = input; p.pointee.c_out = output },
                           run: { p, task, _ in mq2_gemm_task(p, Int32(task)) })
    }
}

extension QuantizedKernels {
    /// Channel order of the AVX2 depthwise kernel's two accumulators within a block of 16 (see `mq2_dw`).
    static let avx2DepthwiseLanes = [0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 12, 13, 14, 15]

    /// DEPTHWISE_CONV_2D on AVX2 (`mq2_dw_rows`): the filter minus its zero point as interleaved int16 tap pairs,
    /// the input's zero point folded into the bias (`-zx * sum(w - zw)`), padded taps reading a row of `zx`.
    static func avx2DepthwiseConv2D(_ context: inout PrepareContext, geometry g: ConvolutionGeometry,
                                    tensors: Conv2DTensors, parameters p: QuantizedConvolutionParameters,
                                    type: TensorType, filter filterData: UnsafeRawBufferPointer,
                                    bias biasValues: [Int32]?) -> Kernel? {
        let c = g.inputDepth, blocks = (c + 15) / 16
        let taps = g.filterHeight * g.filterWidth, pairs = (taps + 1) / 2
        let inputZeroPoint = -p.inputOffset, filterZeroPoint = -p.filterOffset
        let bytes = filterData.bindMemory(to: UInt8.self)
        func weight(_ t: Int, _ ch: Int) -> Int32 {
            guard t < taps, ch < c else { return 0 }
            let raw = bytes[t * c + ch]
            return filterValue(raw, type) - filterZeroPoint
        }
        let weights = context.allocate(Int16.self, count: blocks * pairs * 32)
        var lanes: [Int?] = []
        for block in 0..<blocks {
            for (slot, lane) in avx2DepthwiseLanes.enumerated() {
                let ch = block * 16 + lane
                lanes.append(ch < c ? ch : nil)
                // Vector 0 holds slots 0..<8 of the order, vector 1 slots 8..<16; each slot an int16 tap pair.
                for pair in 0..<pairs {
                    let base = (block * pairs + pair) * 32 + slot * 2
                    weights[base] = Int16(weight(2 * pair, ch))
                    weights[base + 1] = Int16(weight(2 * pair + 1, ch))
                }
            }
        }
        // The input zero point folds into the bias: sum((x - zx)(w - zw)) = sum(x (w - zw)) - zx sum(w - zw).
        guard let records = AVX2Requantization(&context, lanes: lanes, bias: { ch in
            var sum: Int32 = 0
            for t in 0..<taps { sum = sum &+ weight(t, ch) }
            return (biasValues?[ch] ?? 0) &- inputZeroPoint &* sum
        }, parameters: p, type: type) else { return nil }
        // 3x3 windows (dilation 1, stride 1 or 2, whole blocks of 16 channels) also get the filter as column
        // pairs, so that neighbouring outputs share each input column's widened values (`mq2_dw_run3`).
        var columnWeights: UnsafeMutablePointer<Int16>? = nil
        if g.filterHeight == 3, g.filterWidth == 3, g.dilationHeight == 1, g.dilationWidth == 1,
           g.strideWidth == 1 || g.strideWidth == 2, c % 16 == 0 {
            let w3 = context.allocate(Int16.self, count: blocks * 6 * 32)
            for block in 0..<blocks {
                for (slot, lane) in avx2DepthwiseLanes.enumerated() {
                    let ch = block * 16 + lane
                    for fx in 0..<3 {
                        // Pair fx: rows 0 and 1 of column fx; pair 3 + fx: row 2 of column fx and a zero.
                        let top = (block * 6 + fx) * 32 + slot * 2, bottom = (block * 6 + 3 + fx) * 32 + slot * 2
                        w3[top] = Int16(weight(fx, ch))
                        w3[top + 1] = Int16(weight(3 + fx, ch))
                        w3[bottom] = Int16(weight(6 + fx, ch))
                        w3[bottom + 1] = 0
                    }
                }
            }
            columnWeights = w3
        }
        // With AVX-512, the 512-bit run takes 32 channels per step: pairs of 16-channel blocks side by side.
        var joinedWeights: UnsafeMutablePointer<Int16>? = nil, joinedRecords: UnsafeMutablePointer<Int32>? = nil
        if let w3 = columnWeights, c >= 32, mq5_cpu_supported() != 0 {
            let pairsOfBlocks = c / 32, record = Int(MQ2_RQ_INTS)
            let w5 = context.allocate(Int16.self, count: pairsOfBlocks * 12 * 32)
            let rq5 = context.allocate(Int32.self, count: pairsOfBlocks * 24 * 16)
            for pb in 0..<pairsOfBlocks {
                for half in 0..<2 {
                    let block = 2 * pb + half
                    for v in 0..<12 {
                        for i in 0..<16 { w5[(pb * 12 + v) * 32 + half * 16 + i] = w3[(block * 12 + v) * 16 + i] }
                    }
                    for r in 0..<2 {
                        for v in 0..<12 {
                            for lane in 0..<8 {
                                rq5[((pb * 2 + r) * 12 + v) * 16 + half * 8 + lane] =
                                    records.records[(block * 2 + r) * record + v * 8 + lane]
                            }
                        }
                    }
                }
            }
            joinedWeights = w5
            joinedRecords = rq5
        }
        // With VNNI (and VBMI for the column gather): every channel on the VNNI run, three VPDPBUSD per output and
        // 16 channels. int8 activations are flipped to uint8 (the bias folds -(128 + zx) * sum(w)); uint8 filters
        // are stored minus 128, and each output adds (128 - zw) times its taps' sum, which needs 128 - zw in int8.
        var vnniWeights: UnsafeMutablePointer<Int8>? = nil, vnniRecords: UnsafeMutablePointer<Int32>? = nil
        var vnniMode = records.mode
        let vnniCorrection = type == .uint8 ? 128 - filterZeroPoint : 0
        if columnWeights != nil, QuantizedKernels.vnniWindowedAvailable, (-127...127).contains(vnniCorrection),
           let channelOrder = AVX2Requantization(&context, lanes: (0..<c).map { $0 }, bias: { ch in
               var sum: Int32 = 0
               for t in 0..<taps { sum = sum &+ weight(t, ch) }
               let zx = type == .int8 ? 128 &+ inputZeroPoint : inputZeroPoint
               return (biasValues?[ch] ?? 0) &- zx &* sum
           }, parameters: p, type: type) {
            let wv = context.allocate(Int8.self, count: blocks * 192)
            wv.initialize(repeating: 0, count: blocks * 192)
            var fits = true
            for ch in 0..<c {
                for fx in 0..<3 {
                    for fy in 0..<3 {
                        // int8 filters have zero point 0 (TFLite's rule), so every value fits; checked anyway.
                        let raw = bytes[(fy * 3 + fx) * c + ch]
                        let stored = type == .int8 ? Int8(exactly: weight(fy * 3 + fx, ch))
                                                   : Int8(bitPattern: raw ^ 0x80)
                        guard let value = stored else { fits = false; continue }
                        wv[(ch / 16 * 3 + fx) * 64 + ch % 16 * 4 + fy] = value
                    }
                }
            }
            let rqv = channelOrder.sixteenLaneBlocks(&context)
            if fits {
                vnniWeights = wv
                vnniRecords = rqv
                vnniMode = QuantizedKernels.foldZeroPoint(rqv, lanes: c, channel: { $0 }, parameters: p,
                                                          mode: channelOrder.mode)
            }
        }
        // A padding tap, or (for the column-pair path) a whole padding input row.
        let padCount = max(blocks * 16, g.inputWidth * c)
        let padRow = context.allocate(UInt8.self, count: padCount)
        padRow.initialize(repeating: UInt8(truncatingIfNeeded: inputZeroPoint), count: padCount)
        let params = context.allocate(mq2_dw.self, count: 1)
        params.pointee = mq2_dw(
            in: nil, out: nil, batches: Int32(g.batches), ih: Int32(g.inputHeight), iw: Int32(g.inputWidth),
            c: Int32(c), oh: Int32(g.outputHeight), ow: Int32(g.outputWidth), kh: Int32(g.filterHeight),
            kw: Int32(g.filterWidth), sh: Int32(g.strideHeight), sw: Int32(g.strideWidth),
            dh: Int32(g.dilationHeight), dw: Int32(g.dilationWidth), ph: Int32(g.padHeight), pw: Int32(g.padWidth),
            w: UnsafePointer(weights), rq: UnsafePointer(records.records),
            rq_mode: vnniWeights == nil ? records.mode : vnniMode,
            act_min: p.activationMin, act_max: p.activationMax,
            is_signed: type == .int8 ? 1 : 0, pad_row: UnsafePointer(padRow),
            w3: columnWeights.map { UnsafePointer($0) }, w5: joinedWeights.map { UnsafePointer($0) },
            rq5: joinedRecords.map { UnsafePointer($0) }, wv: vnniWeights.map { UnsafePointer($0) },
            rqv: vnniRecords.map { UnsafePointer($0) }, wv_corr: Int32(vnniCorrection))
        return CTaskKernel.rows(g.batches * g.outputHeight, tensors: tensors, params: params, pool: context.pool,
                                bind: { p, input, output in p.pointee.in = input; p.pointee.out = output },
                                body: { p, begin, end in mq2_dw_rows(p, begin, end) })
    }
}

/// The AVX2 kernels' requantization records (`MQ2_RQ_INTS` in CMagpieKernels.h, `mq2_rq` in quantized_avx2.c):
/// per group of 8 output lanes, the bias, multipliers and the 64-bit constants that fold TFLite's two roundings into
/// one, and the mode the kernels specialise on. `lanes` gives each lane's channel (nil for padding lanes, which get
/// zeros and are never stored).
struct AVX2Requantization {
    let records: UnsafeMutablePointer<Int32>
    /// `MQ2_MODE_*`.
    let mode: Int32
    /// Number of 8-lane records.
    let count: Int

    /// The records as the 512-bit kernels read them (VNNI GEMM, AMX, the VNNI depthwise run): per 16 lanes one
    /// block of `MQ_RQ16_INTS`, each of its 12 vectors two 8-lane records side by side (record a's lanes, then b's).
    func sixteenLaneBlocks(_ context: inout PrepareContext) -> UnsafeMutablePointer<Int32> {
        precondition(count % 2 == 0)
        let record = Int(MQ2_RQ_INTS), block = Int(MQ_RQ16_INTS)
        let joined = context.allocate(Int32.self, count: count / 2 * block)
        for b in 0..<count / 2 {
            for v in 0..<12 {
                for lane in 0..<16 {
                    joined[b * block + v * 16 + lane] = records[(2 * b + lane / 8) * record + v * 8 + lane % 8]
                }
            }
        }
        return joined
    }

    /// nil when a shift is outside what the kernels handle (right shifts above 31, left shifts above 30).
    /// With XNNPACK's arithmetic (`p.floatScales`), `MQ2_MODE_FLOAT` records: the bias, the float32 scales, the
    /// activation range less the zero point in float32, and the zero point (vectors 0, 1, 2 and 3, 9).
    init?(_ context: inout PrepareContext, lanes: [Int?], bias: (Int) -> Int32,
          parameters p: QuantizedConvolutionParameters, type: TensorType) {
        precondition(lanes.count % 8 == 0)
        if let scales = p.floatScales {
            let records = context.allocate(Int32.self, count: lanes.count / 8 * Int(MQ2_RQ_INTS))
            records.initialize(repeating: 0, count: lanes.count / 8 * Int(MQ2_RQ_INTS))
            for (i, lane) in lanes.enumerated() {
                guard let ch = lane else { continue }
                func int32(_ vector: Int, _ value: Int32) {
                    records[i / 8 * Int(MQ2_RQ_INTS) + vector * 8 + i % 8] = value
                }
                int32(0, bias(ch))
                int32(1, Int32(bitPattern: scales[ch].bitPattern))
                int32(2, Int32(bitPattern: p.floatMin.bitPattern))
                int32(3, Int32(bitPattern: p.floatMax.bitPattern))
                int32(9, p.outputOffset)
            }
            self.records = records
            count = lanes.count / 8
            mode = Int32(MQ2_MODE_FLOAT)
            return
        }
        for case let ch? in lanes where p.shifts[ch] > 30 || p.shifts[ch] < -31 { return nil }
        let records = context.allocate(Int32.self, count: lanes.count / 8 * Int(MQ2_RQ_INTS))
        let raw = UnsafeMutableRawPointer(records)
        var general = false
        for (i, lane) in lanes.enumerated() {
            guard let ch = lane else { continue }
            let record = i / 8 * Int(MQ2_RQ_INTS), slot = i % 8
            let shift = p.shifts[ch]
            let left = max(shift, 0), e = max(-shift, 0)
            general = general || left > 0 || e == 0
            func int32(_ vector: Int, _ lane: Int, _ value: Int32) { records[record + vector * 8 + lane] = value }
            func int64(_ vector: Int, _ value: Int64) {
                raw.storeBytes(of: value, toByteOffset: (record + vector * 8) * 4 + slot / 2 * 8, as: Int64.self)
            }
            int32(0, slot, bias(ch))
            int32(1, slot, p.multipliers[ch])
            if slot % 2 == 1 { int32(2, slot - 1, p.multipliers[ch]) }
            // Even lanes' 64-bit values go to vectors 3, 5, 7; odd lanes' to 4, 6, 8 (and 11).
            let odd = slot % 2
            int64(3 + odd, (1 << 62) + (1 << 30) + (e >= 1 ? Int64(1) << (e + 30) : 0))
            int64(5 + odd, Int64(31 + e))
            int64(7 + odd, e >= 1 ? -(Int64(1) << 31) : 0)
            if odd == 1 && e >= 1 { int64(11, Int64(e - 1)) }
            int32(9, slot, Int32(truncatingIfNeeded: Int64(p.outputOffset) - (Int64(1) << (31 - e))))
            int32(10, slot, Int32(left))
        }
        self.records = records
        count = lanes.count / 8
        let (typeMin, typeMax): (Int32, Int32) = type == .int8 ? (-128, 127) : (0, 255)
        if general {
            mode = Int32(MQ2_MODE_GENERAL)
        } else if p.activationMin >= p.outputOffset {
            mode = Int32(MQ2_MODE_RELU)
        } else if p.activationMin <= typeMin && p.activationMax >= typeMax {
            mode = Int32(MQ2_MODE_LINEAR)
        } else {
            mode = Int32(MQ2_MODE_GENERAL)
        }
    }
}
