import CMagpieKernels
import MagpieModel

extension FloatKernels {
    /// DEPTHWISE_CONV_2D float32 with depth multiplier 1 and a constant filter (and bias, if any); nil otherwise.
    static func depthwiseConv2D(_ context: inout PrepareContext, geometry g: ConvolutionGeometry,
                                tensors: Conv2DTensors, min lo: Float, max hi: Float) throws -> Kernel? {
        guard g.outputDepth == g.inputDepth, g.inputDepth > 0, g.batches > 0 else { return nil }
        guard let filterData = try context.input(1).constant else { return nil }
        var biasData: UnsafeRawBufferPointer? = nil
        if tensors.bias >= 0 {
            guard let b = context.optionalInput(2)?.constant else { return nil }
            biasData = b
        }
        let c = g.inputDepth, taps = g.filterHeight * g.filterWidth
        guard filterData.count >= taps * c * 4 else { return nil }
        let weights = context.allocate(Float.self, count: taps * c)
        for i in 0..<(taps * c) { weights[i] = filterData.loadUnaligned(fromByteOffset: i * 4, as: Float.self) }
        let bias = context.allocate(Float.self, count: c)
        if let biasData {
            for i in 0..<c { bias[i] = biasData.loadUnaligned(fromByteOffset: i * 4, as: Float.self) }
        }
        if avx2Available {
            return avx2DepthwiseConv2D(&context, geometry: g, tensors: tensors, weights: weights, bias: bias,
                                       min: lo, max: hi)
        }
        return FloatDepthwiseConv2DKernel(geometry: g, tensors: tensors, weights: weights, bias: bias,
                                          pool: context.pool, min: lo, max: hi)
    }

    /// Whether this CPU runs the AVX2 + FMA float kernels (float_avx2.c); evaluated once.
    static let avx2Available = mf_cpu_supported() != 0

    /// Output rows per thread below which a depthwise layer on several threads splits its channels, not its rows.
    static let minimumRowsPerThread = 8

    /// DEPTHWISE_CONV_2D on AVX2 + FMA (`mf_dw_rows`): the same arithmetic as `FloatDepthwiseConv2DKernel` (bias,
    /// then one FMA per tap in raster order, then the clamp). 3x3 windows read taps outside the input (rows and
    /// columns) from a row of zeros instead of checking bounds per tap; adding those 0 x w terms changes nothing but
    /// the sign of an exact zero sum (and would turn an infinite weight into NaN), so for finite filters the two
    /// kernels agree.
    static func avx2DepthwiseConv2D(_ context: inout PrepareContext, geometry g: ConvolutionGeometry,
                                    tensors: Conv2DTensors, weights: UnsafeMutablePointer<Float>,
                                    bias: UnsafeMutablePointer<Float>, min lo: Float, max hi: Float) -> Kernel {
        // Zeroed; long enough for the fused kernel's planar ring rows too (channels rounded up to 8).
        let zeroRow = context.allocate(Float.self, count: Int(mf_expand_dw_row_floats(Int32(g.inputWidth),
                                                                                       Int32(g.inputDepth))))
        let params = context.allocate(mf_dw.self, count: 1)
        params.pointee = mf_dw(
            in: nil, out: nil, batches: Int32(g.batches), ih: Int32(g.inputHeight), iw: Int32(g.inputWidth),
            c: Int32(g.inputDepth), oh: Int32(g.outputHeight), ow: Int32(g.outputWidth), kh: Int32(g.filterHeight),
            kw: Int32(g.filterWidth), sh: Int32(g.strideHeight), sw: Int32(g.strideWidth),
            dh: Int32(g.dilationHeight), dw: Int32(g.dilationWidth), ph: Int32(g.padHeight), pw: Int32(g.padWidth),
            w: UnsafePointer(weights), bias: UnsafePointer(bias), lo: lo, hi: hi, zero_row: UnsafePointer(zeroRow))
        let bind: (UnsafeMutablePointer<mf_dw>, UnsafePointer<UInt8>, UnsafeMutablePointer<UInt8>) -> Void = {
            p, input, output in
            p.pointee.in = UnsafeRawPointer(input).assumingMemoryBound(to: Float.self)
            p.pointee.out = UnsafeMutableRawPointer(output).assumingMemoryBound(to: Float.self)
        }
        let rows = g.batches * g.outputHeight, threads = context.pool.threadCount, c = g.inputDepth
        let blocks = (c + 15) / 16
        if threads > 1 && rows < threads * minimumRowsPerThread && blocks >= threads * 2 {
            // Few rows (MobileNetV2's 7 x 7 layers: 4 + 3 rows on two threads) split the channels instead: thread t
            // starts on the t-th equal share of the 16-channel blocks, which the panels-outer GEMM before it wrote
            // on that thread too (`GEMMTaskPlan`'s shares), cut into up to four tasks.
            let perShare = min(4, blocks / threads)
            return CTaskKernel(input: tensors.input, output: tensors.output, params: params,
                               tasks: threads * perShare, pool: context.pool, bind: bind) { p, task, _ in
                let share = task / perShare, group = task % perShare
                let first = blocks * share / threads, size = blocks * (share + 1) / threads - first
                let b0 = first + size * group / perShare, b1 = first + size * (group + 1) / perShare
                mf_dw_rows_channels(p, 0, Int32(rows), Int32(16 * b0), Int32(Swift.min(16 * b1, c)))
            }
        }
        return CTaskKernel.rows(rows, tensors: tensors, params: params, pool: context.pool, bind: bind,
                                body: { p, begin, end in mf_dw_rows(p, begin, end) })
    }
}

/// Depthwise convolution vectorized over channels. Work is split over output rows (pool tasks); within a row,
/// channels go in blocks of 8 (then 4, 2 and single lanes for the tail), and for each block the 3×3 filter taps
/// and the bias sit in registers while the kernel walks the row's output pixels. Interior pixels take an unrolled
/// 9-FMA path; pixels whose window crosses the padding (and filters other than 3×3) take a bounds-checked loop.
final class FloatDepthwiseConv2DKernel: Kernel {
    let g: ConvolutionGeometry
    let tensors: Conv2DTensors
    let weights: UnsafeMutablePointer<Float>, bias: UnsafeMutablePointer<Float>
    let pool: ThreadPool
    let lo: Float, hi: Float
    let taskCount: Int

    init(geometry: ConvolutionGeometry, tensors: Conv2DTensors, weights: UnsafeMutablePointer<Float>,
         bias: UnsafeMutablePointer<Float>, pool: ThreadPool, min: Float, max: Float) {
        g = geometry; self.tensors = tensors; self.weights = weights; self.bias = bias; self.pool = pool
        lo = min; hi = max
        let rows = g.batches * g.outputHeight
        taskCount = pool.threadCount <= 1 ? 1 : Swift.min(rows, pool.threadCount * 8)
    }

    func invoke(_ t: TensorBuffers) throws {
        let input = UnsafePointer(t.pointer(tensors.input, as: Float.self))
        let output = t.pointer(tensors.output, as: Float.self)
        let rows = g.batches * g.outputHeight
        if taskCount == 1 {
            for r in 0..<rows { row(r, input, output) }
        } else {
            let tasks = taskCount
            pool.parallelFor(tasks) { task in
                for r in (rows * task / tasks)..<(rows * (task + 1) / tasks) { row(r, input, output) }
            }
        }
    }

    private func row(_ r: Int, _ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>) {
        let c = g.inputDepth
        var cb = 0
        // SIMD8 blocks: on AVX2 the 9 taps, the accumulator and the input fit the 16 vector registers.
        while cb + 8 <= c { block(SIMD8<Float>.self, r, cb, input, output); cb += 8 }
        if cb + 4 <= c { block(SIMD4<Float>.self, r, cb, input, output); cb += 4 }
        if cb + 2 <= c { block(SIMD2<Float>.self, r, cb, input, output); cb += 2 }
        while cb < c { scalar(r, cb, input, output); cb += 1 }
    }

    @inline(__always)
    private func load<V: SIMD>(_ p: UnsafePointer<Float>, _: V.Type) -> V where V.Scalar == Float {
        UnsafeRawPointer(p).loadUnaligned(as: V.self)
    }

    /// One output row, channels `cb ..< cb + V.scalarCount`.
    @inline(__always)
    private func block<V: SIMD>(_: V.Type, _ r: Int, _ cb: Int, _ input: UnsafePointer<Float>,
                                _ output: UnsafeMutablePointer<Float>) where V.Scalar == Float {
        let c = g.inputDepth
        let b = r / g.outputHeight, oy = r % g.outputHeight
        let originY = oy * g.strideHeight - g.padHeight
        let vlo = V(repeating: lo), vhi = V(repeating: hi)
        let vbias = load(bias + cb, V.self)
        let plane = input + b * g.inputHeight * g.inputWidth * c + cb
        var out = output + (r * g.outputWidth) * c + cb
        let rowStride = g.inputWidth * c
        let is3x3 = g.filterHeight == 3 && g.filterWidth == 3 && g.dilationHeight == 1 && g.dilationWidth == 1
        if is3x3 && originY >= 0 && originY + 2 < g.inputHeight {
            let w0 = load(weights + cb, V.self), w1 = load(weights + c + cb, V.self)
            let w2 = load(weights + 2 * c + cb, V.self), w3 = load(weights + 3 * c + cb, V.self)
            let w4 = load(weights + 4 * c + cb, V.self), w5 = load(weights + 5 * c + cb, V.self)
            let w6 = load(weights + 6 * c + cb, V.self), w7 = load(weights + 7 * c + cb, V.self)
            let w8 = load(weights + 8 * c + cb, V.self)
            let row0 = plane + originY * rowStride
            // First and last interior output columns.
            let first = Swift.min(g.outputWidth, (g.padWidth + g.strideWidth - 1) / g.strideWidth)
            let span = g.inputWidth - 3 + g.padWidth
            let lastPlusOne = span < 0 ? first
                : Swift.max(first, Swift.min(g.outputWidth, span / g.strideWidth + 1))
            var ox = 0
            while ox < first { edgePixel(V.self, b, originY, ox, cb, input, out, vbias, vlo, vhi); out += c; ox += 1 }
            let step = g.strideWidth * c
            var p = row0 + (first * g.strideWidth - g.padWidth) * c
            while ox < lastPlusOne {
                let q = p + rowStride, s = q + rowStride
                var acc = vbias
                acc = acc.addingProduct(load(p, V.self), w0)
                acc = acc.addingProduct(load(p + c, V.self), w1)
                acc = acc.addingProduct(load(p + 2 * c, V.self), w2)
                acc = acc.addingProduct(load(q, V.self), w3)
                acc = acc.addingProduct(load(q + c, V.self), w4)
                acc = acc.addingProduct(load(q + 2 * c, V.self), w5)
                acc = acc.addingProduct(load(s, V.self), w6)
                acc = acc.addingProduct(load(s + c, V.self), w7)
                acc = acc.addingProduct(load(s + 2 * c, V.self), w8)
                UnsafeMutableRawPointer(out).storeBytes(of: FloatKernels.clamp(acc, vlo, vhi), as: V.self)
                out += c; p += step; ox += 1
            }
            while ox < g.outputWidth {
                edgePixel(V.self, b, originY, ox, cb, input, out, vbias, vlo, vhi); out += c; ox += 1
            }
        } else {
            for ox in 0..<g.outputWidth {
                edgePixel(V.self, b, originY, ox, cb, input, out, vbias, vlo, vhi); out += c
            }
        }
    }

    /// One output pixel of one channel block, any filter size, bounds checked.
    @inline(__always)
    private func edgePixel<V: SIMD>(_: V.Type, _ b: Int, _ originY: Int, _ ox: Int, _ cb: Int,
                                    _ input: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
                                    _ vbias: V, _ vlo: V, _ vhi: V) where V.Scalar == Float {
        let c = g.inputDepth
        let originX = ox * g.strideWidth - g.padWidth
        var acc = vbias
        for fy in 0..<g.filterHeight {
            let y = originY + fy * g.dilationHeight
            if y < 0 || y >= g.inputHeight { continue }
            for fx in 0..<g.filterWidth {
                let x = originX + fx * g.dilationWidth
                if x < 0 || x >= g.inputWidth { continue }
                let v = load(input + ((b * g.inputHeight + y) * g.inputWidth + x) * c + cb, V.self)
                acc = acc.addingProduct(v, load(weights + (fy * g.filterWidth + fx) * c + cb, V.self))
            }
        }
        UnsafeMutableRawPointer(out).storeBytes(of: FloatKernels.clamp(acc, vlo, vhi), as: V.self)
    }

    /// One output row of the single channel `ch`.
    private func scalar(_ r: Int, _ ch: Int, _ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>) {
        let c = g.inputDepth
        let b = r / g.outputHeight, oy = r % g.outputHeight
        let originY = oy * g.strideHeight - g.padHeight
        for ox in 0..<g.outputWidth {
            let originX = ox * g.strideWidth - g.padWidth
            var acc = bias[ch]
            for fy in 0..<g.filterHeight {
                let y = originY + fy * g.dilationHeight
                if y < 0 || y >= g.inputHeight { continue }
                for fx in 0..<g.filterWidth {
                    let x = originX + fx * g.dilationWidth
                    if x < 0 || x >= g.inputWidth { continue }
                    acc = acc.addingProduct(input[((b * g.inputHeight + y) * g.inputWidth + x) * c + ch],
                                            weights[(fy * g.filterWidth + fx) * c + ch])
                }
            }
            output[(r * g.outputWidth + ox) * c + ch] = Swift.min(Swift.max(acc, lo), hi)
        }
    }
}
