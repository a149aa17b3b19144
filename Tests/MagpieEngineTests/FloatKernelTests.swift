import Foundation
import XCTest
@testable import MagpieEngine
import MagpieModel
import MagpieTestSupport

/// The optimized float32 kernels (`FloatKernels`) against the reference kernels: within 1e-4 relative (of the
/// output's magnitude), at the GEMM's tile edges (6 rows × 16 channels), odd strides and paddings, and 1-3 threads.
final class FloatKernelTests: XCTestCase {
    struct ConvCase {
        var n: Int = 1
        var h: Int
        var w: Int
        var cin: Int
        var cout: Int
        var kh: Int = 1
        var kw: Int = 1
        var stride: (Int, Int) = (1, 1)
        var dilation: (Int, Int) = (1, 1)
        var padding: Padding = .same
        var activation: FusedActivation = .none
        var bias: Bool = true
        var depthwise: Bool = false
    }

    /// The largest error of `actual` against `expected`, relative to each expected value but at least 1% of the
    /// output's magnitude (so values near zero do not dominate).
    func worstRelativeError(_ actual: [Float], _ expected: [Float]) -> Float {
        let scale = max(1, expected.map { abs($0) }.max() ?? 0)
        var worst: Float = 0
        for (a, e) in zip(actual, expected) { worst = max(worst, abs(a - e) / max(abs(e), scale * 1e-2)) }
        return worst
    }

    /// Builds a one-operator model of `c`, runs it with reference and optimized kernels, compares.
    func check(_ c: ConvCase, seed: UInt64, file: StaticString = #filePath, line: UInt = #line) throws {
        var rng = SeededGenerator(seed: seed)
        func random(_ count: Int) -> [Float] { (0..<count).map { _ in Float.random(in: -1...1, using: &rng) } }
        var b = OpModelBuilder()
        let x = b.input("x", .float32, [c.n, c.h, c.w, c.cin])
        let filterShape = c.depthwise ? [1, c.kh, c.kw, c.cout] : [c.cout, c.kh, c.kw, c.cin]
        let wt = b.constant("w", .float32, filterShape, bytes: Bytes.of(random(filterShape.reduce(1, *))))
        var inputs = [x, wt]
        if c.bias { inputs.append(b.constant("b", .float32, [c.cout], bytes: Bytes.of(random(c.cout)))) }
        let oh = windowedOutputSize(c.h, filter: c.kh, stride: c.stride.0, dilation: c.dilation.0, padding: c.padding)
        let ow = windowedOutputSize(c.w, filter: c.kw, stride: c.stride.1, dilation: c.dilation.1, padding: c.padding)
        let y = b.tensor("y", .float32, [c.n, oh, ow, c.cout])
        if c.depthwise {
            var o = DepthwiseConv2DOptions()
            o.padding = c.padding; o.strideHeight = c.stride.0; o.strideWidth = c.stride.1
            o.dilationHeight = c.dilation.0; o.dilationWidth = c.dilation.1; o.activation = c.activation
            o.depthMultiplier = c.cout / c.cin
            b.op(.depthwiseConv2D, inputs: inputs, outputs: [y], options: .depthwiseConv2D(o), version: 2)
        } else {
            var o = Conv2DOptions()
            o.padding = c.padding; o.strideHeight = c.stride.0; o.strideWidth = c.stride.1
            o.dilationHeight = c.dilation.0; o.dilationWidth = c.dilation.1; o.activation = c.activation
            b.op(.conv2D, inputs: inputs, outputs: [y], options: .conv2D(o), version: 2)
        }
        let data = [Bytes.of(random(c.n * c.h * c.w * c.cin))]
        let expected = Bytes.floats(try b.run(data, kernels: .reference)[0])
        for threads in [1, 2, 3] {
            let actual = Bytes.floats(try b.run(data, kernels: .optimized, threads: threads)[0])
            XCTAssertEqual(actual.count, expected.count, file: file, line: line)
            XCTAssertLessThanOrEqual(worstRelativeError(actual, expected), 1e-4, "\(c) threads \(threads)",
                                     file: file, line: line)
        }
    }

    func testPointwiseGEMMTileEdges() throws {
        var seed: UInt64 = 1
        // Rows (pixels) around the 6-row tile (and the 4-row one of 17-24 columns on AVX2, the 8-pair one of 24
        // columns on AVX-512: 16, 17, 30 = 8 + 7 pairs; a single panel's two row tiles at once: 7, 9, 49, 65),
        // channels around the 16-wide panel (and 4-panel groups for 1 row; an odd number of panels ending in a
        // 3-panel tile on AVX-512: 33, 40, 80).
        for (h, w) in [(1, 1), (1, 7), (2, 4), (3, 3), (1, 9), (4, 4), (1, 17), (5, 6), (7, 7), (5, 13)] {
            for cout in [1, 3, 8, 17, 20, 24, 31, 32, 33, 40, 64, 80, 96] {
                for cin in [1, 3, 17, 32] {
                    seed += 1
                    try check(ConvCase(h: h, w: w, cin: cin, cout: cout, activation: seed % 3 == 0 ? .relu6 : .none,
                                       bias: seed % 5 != 0), seed: seed)
                }
            }
        }
    }

    func testPointwiseLargeChannels() throws {
        // Panels outside (a small A): 1.6 MB of weights split by panels at 2 and 3 threads; 14 KB split by rows.
        try check(ConvCase(h: 7, w: 7, cin: 320, cout: 1280, activation: .relu6), seed: 100)
        try check(ConvCase(h: 14, w: 14, cin: 144, cout: 24), seed: 101)
        try check(ConvCase(h: 2, w: 3, cin: 960, cout: 160), seed: 102)
        // One pixel (a classifier head as a 1x1 convolution): the matrix-vector path (k-major weights on AVX2 +
        // FMA, 63 panels elsewhere); outputs that end inside an 8-float vector; with two pixels, the GEMM again.
        try check(ConvCase(h: 1, w: 1, cin: 1280, cout: 1001, activation: .relu6), seed: 103)
        try check(ConvCase(h: 1, w: 1, cin: 3, cout: 5, activation: .relu), seed: 106)
        try check(ConvCase(h: 1, w: 1, cin: 37, cout: 70, bias: false), seed: 107)
        try check(ConvCase(n: 2, h: 1, w: 1, cin: 37, cout: 70), seed: 108)
        // An A too large for the panels-outside order (1056 rows x 64 floats), so row tiles go outside.
        try check(ConvCase(h: 32, w: 33, cin: 64, cout: 40), seed: 104)
        // Rows outside with 33 tiles: 2 threads give 16 row groups, 3 threads one group per tile.
        try check(ConvCase(h: 14, w: 14, cin: 384, cout: 64), seed: 105)
    }

    func testGeneralConvolutions() throws {
        // MobileNet's first layer, odd sizes, strides, paddings, dilation, 1×1 with stride 2.
        try check(ConvCase(h: 17, w: 17, cin: 3, cout: 32, kh: 3, kw: 3, stride: (2, 2), activation: .relu6), seed: 200)
        try check(ConvCase(h: 16, w: 16, cin: 3, cout: 32, kh: 3, kw: 3, stride: (2, 2), activation: .relu6), seed: 201)
        // 267 gathered tiles: more than twice the tasks, so each task gathers and multiplies several tiles in turn.
        try check(ConvCase(h: 40, w: 40, cin: 3, cout: 16, kh: 3, kw: 3, activation: .relu6), seed: 207)
        try check(ConvCase(h: 9, w: 6, cin: 5, cout: 33, kh: 3, kw: 2, stride: (1, 2), padding: .valid), seed: 202)
        try check(ConvCase(h: 8, w: 9, cin: 4, cout: 17, kh: 3, kw: 3, dilation: (2, 2)), seed: 203)
        try check(ConvCase(h: 9, w: 9, cin: 16, cout: 31, stride: (2, 2)), seed: 204)
        try check(ConvCase(n: 2, h: 5, w: 5, cin: 8, cout: 40, kh: 5, kw: 5, stride: (3, 3), bias: false), seed: 205)
        try check(ConvCase(n: 3, h: 4, w: 3, cin: 17, cout: 64, activation: .relu), seed: 206)
        // Rows with 12 or more pixels whose windows lie inside the input (the AVX-512 path that reads them in place,
        // 6 to a tile, the rest of a row in the gathered tiles), rows split between threads mid-row: the first
        // layer's shape on 34 x 37, two images with three panels (a pair and a single), dilation in height only,
        // an uneven stride, valid padding.
        try check(ConvCase(h: 34, w: 37, cin: 3, cout: 32, kh: 3, kw: 3, stride: (2, 2), activation: .relu6), seed: 208)
        try check(ConvCase(n: 2, h: 11, w: 30, cin: 4, cout: 40, kh: 3, kw: 5, dilation: (2, 1)), seed: 209)
        try check(ConvCase(h: 7, w: 61, cin: 2, cout: 16, kh: 2, kw: 4, stride: (1, 3), padding: .valid,
                           activation: .relu), seed: 210)
    }

    func testDepthwise() throws {
        var seed: UInt64 = 300
        // On 2-3 threads, layers of fewer than 8 output rows a thread and at least two 16-channel blocks a thread
        // split their channels instead (64, 72 with a partial last block, 96, 144).
        for c in [1, 3, 8, 17, 31, 32, 33, 64, 72, 96, 144] {
            // The last three leave 8, 19 and 12 interior columns: runs of four pixels and a remainder (`mf5_dw_run3`).
            for (h, w, stride) in [(1, 1, 1), (5, 5, 1), (7, 9, 2), (8, 8, 2), (2, 3, 1), (12, 4, 1), (3, 10, 1),
                                   (4, 21, 1), (5, 26, 2)] {
                for padding in [Padding.same, .valid] where padding == .same || (h >= 3 && w >= 3) {
                    seed += 1
                    try check(ConvCase(h: h, w: w, cin: c, cout: c, kh: 3, kw: 3, stride: (stride, stride),
                                       padding: padding, activation: seed % 2 == 0 ? .relu6 : .none,
                                       bias: seed % 7 != 0, depthwise: true), seed: seed)
                }
            }
        }
        try check(ConvCase(h: 9, w: 7, cin: 20, cout: 20, kh: 5, kw: 5, stride: (2, 1), depthwise: true), seed: 400)
        try check(ConvCase(h: 6, w: 7, cin: 80, cout: 80, kh: 5, kw: 5, stride: (1, 1), depthwise: true), seed: 404)
        try check(ConvCase(h: 9, w: 9, cin: 19, cout: 19, kh: 3, kw: 3, dilation: (2, 2), depthwise: true), seed: 401)
        try check(ConvCase(n: 2, h: 6, w: 6, cin: 48, cout: 48, kh: 3, kw: 3, stride: (1, 2), depthwise: true), seed: 402)
        // Depth multiplier 2 falls back to the reference.
        try check(ConvCase(h: 5, w: 5, cin: 8, cout: 16, kh: 3, kw: 3, depthwise: true), seed: 403)
    }

    typealias Run = (output: [Float], fused: [Int: Int], skipping: Set<Int>)

    func run(_ model: [UInt8], _ input: [UInt8], kernels: KernelSet, threads: Int = 1, fuses: Bool = true,
             skipsZeros: Bool = true) throws -> Run {
        let interpreter = try Interpreter(model: try Model(data: model),
                                          options: .init(threadCount: threads, kernels: kernels, fusesOperators: fuses,
                                                         skipsZeros: skipsZeros))
        try interpreter.allocateTensors()
        try interpreter.copy(Data(input), toInputAt: 0)
        try interpreter.invoke()
        return (Bytes.floats(Array(try interpreter.output(at: interpreter.outputTensorCount - 1).data)),
                interpreter.fusedOperators, interpreter.zeroSkippingOperators)
    }

    /// Zero skipping (`ZeroSkipping`): a projection of at least 64 channels that reads the depthwise layer's ReLU6
    /// output lists each tile's live input channels and multiplies only those. Its output equals the dense GEMM's
    /// (and the reference's within 1e-4) with whole dead channels, random zeros, input depths that are not a
    /// multiple of 8 (the list's scalar tail), row counts that leave 5-row and short tiles (7x7 = 49, 13 x 1), a
    /// single pixel (the classifier's one-row path), panels in the outer loop (a small A) or not, and 1-3 threads.
    func testZeroSkipping() throws {
        let cases = [ExpansionBlock(n: 1, h: 14, w: 14, cin: 16, expanded: 70, stride: 2, activation: .relu6,
                                    projected: 80, deadEvery: 3),
                     ExpansionBlock(n: 1, h: 13, w: 1, cin: 8, expanded: 37, stride: 1, activation: .relu6,
                                    projected: 64),
                     ExpansionBlock(n: 1, h: 1, w: 1, cin: 8, expanded: 150, stride: 1, activation: .relu6,
                                    projected: 100, deadEvery: 2),
                     ExpansionBlock(n: 2, h: 40, w: 40, cin: 8, expanded: 24, stride: 1, activation: .none,
                                    projected: 72, deadEvery: 4)]
        try checkAgainstDisabled(cases, seed: 700, skipsZeros: false) { c, _, dense, skipping in
            XCTAssertEqual(dense.skipping, [])
            XCTAssertEqual(skipping.skipping, KernelFusion.available ? [3] : [],
                           "\(c): the projection (3) skips zeros on AVX2 + FMA CPUs")
        }
        // Fewer than 64 output channels, or an input that no ReLU wrote (the expansion reads a linear convolution):
        // no skipping.
        let (model, input) = ExpansionBlock(n: 1, h: 14, w: 14, cin: 64, expanded: 96, stride: 1,
                                            activation: .relu6, projected: 48).build(seed: 710)
        XCTAssertEqual(try run(model, input, kernels: .optimized).skipping, [])
    }

    /// Zero skipping needs finite weights (0 × inf is NaN in the dense sum): `allFinite` finds one infinity or NaN
    /// anywhere, and passes the largest finite values and subnormals.
    func testZeroSkippingNeedsFiniteWeights() {
        var values = [Float](repeating: 0.5, count: 37)
        values[3] = .greatestFiniteMagnitude; values[4] = -.greatestFiniteMagnitude
        values[5] = .leastNonzeroMagnitude; values[6] = -0.0
        XCTAssertTrue(FloatKernels.allFinite(values, count: values.count))
        for (i, bad) in [(0, Float.infinity), (17, -Float.infinity), (36, Float.nan)] {
            var copy = values
            copy[i] = bad
            XCTAssertFalse(FloatKernels.allFinite(copy, count: copy.count), "\(bad) at \(i)")
        }
    }

    /// `GEMMTaskPlan` cuts a GEMM into tasks that cover every (row tile, weight panel) exactly once, with no empty
    /// task, for one to four threads: panels-outer GEMMs with small weights (row groups) and large ones (an equal
    /// share of the panels per thread, in runs of whole pairs so that the 6 x 32 tile runs), and the others (rows
    /// first, panels where the tiles are few).
    func testGEMMTaskPlanCoversEveryTileAndPanelOnce() {
        var shapes: [(rows: Int, panels: Int, threads: Int, outer: Bool, weightBytes: Int)] = []
        for rows in [1, 5, 6, 49, 196, 3136] {
            for panels in [1, 2, 3, 10, 20, 60] {
                for threads in 1...4 {
                    for outer in [false, true] {
                        for weightBytes in [1024, 1 << 20] { shapes.append((rows, panels, threads, outer, weightBytes)) }
                    }
                }
            }
        }
        for (rows, panels, threads, panelsOuter, weightBytes) in shapes {
            let plan = GEMMTaskPlan(rows: rows, panels: panels, threads: threads, panelsOuter: panelsOuter,
                                    weightBytes: weightBytes)
            let label = "rows \(rows) panels \(panels) threads \(threads) outer \(panelsOuter) weights \(weightBytes)"
            var seen = [Int](repeating: 0, count: plan.tiles * panels)
            for task in 0..<plan.taskCount {
                let (tiles, taskPanels) = plan.ranges(task)
                XCTAssertFalse(tiles.isEmpty || taskPanels.isEmpty, "\(label): task \(task) is empty")
                for t in tiles { for p in taskPanels { seen[t * panels + p] += 1 } }
            }
            XCTAssertEqual(seen.filter { $0 != 1 }.count, 0, "\(label): cells not covered exactly once")
            if threads == 1 { XCTAssertEqual(plan.taskCount, 1, label) }
            if panelsOuter && weightBytes > GEMMTaskPlan.sharedWeightLimit && threads > 1 && panels >= threads {
                XCTAssertEqual(plan.rowGroups, 1, label)
                XCTAssertGreaterThanOrEqual(plan.taskCount, threads, "\(label): a task per thread at least")
                // The pool starts slot t on tasks count * t / threads ..< count * (t + 1) / threads: those tasks
                // must be thread t's share of the panels, equal to within one panel, in runs of whole pairs (an odd
                // panel only at the end of a share).
                XCTAssertEqual(plan.taskCount % threads, 0, label)
                for t in 0..<threads {
                    let tasks = plan.taskCount * t / threads ..< plan.taskCount * (t + 1) / threads
                    let runs = tasks.map { plan.ranges($0).panels }
                    XCTAssertEqual(runs.first?.lowerBound, panels * t / threads, "\(label): share \(t) start")
                    XCTAssertEqual(runs.last?.upperBound, panels * (t + 1) / threads, "\(label): share \(t) end")
                    let shareSize = panels * (t + 1) / threads - panels * t / threads
                    for (i, run) in runs.enumerated() {
                        let wholePairs = i < runs.count - 1 ? run.count >= 2 && run.count % 2 == 0
                            : run.count >= min(2, shareSize)
                        XCTAssertTrue(wholePairs, "\(label): share \(t) run \(run) is not whole pairs")
                    }
                }
            }
        }
    }

    /// The fused expansion and depthwise kernel (`ExpansionBlock`: a 1×1 convolution, the expansion (1×1, or 3×3
    /// stride 2 like the first layer), the 3×3 depthwise convolution, a projection; operators 1 and 2 fuse) gives
    /// the unfused kernels' bits (and so the reference within 1e-4) at strides 1 and 2, batches, odd sizes (a
    /// last band of one row), channel counts that are not a multiple of 8 (20: the 24-column tile) and 1-3 threads:
    /// tasks over row ranges (one per thread, sharing the expanded rows at their edges; one range where the rows are
    /// few) and, with several threads, chunks of whole pairs of weight panels (an odd panel in the last chunk: 37
    /// and 40 channels' 3 panels, 144 channels' 9; 90 channels' 6 with a partial last one; one chunk for a windowed
    /// producer), each run by whichever thread claims it, with that thread's ring. The convolution before the pair
    /// makes the expansion's input an arena tensor: a memory plan that let the depthwise output, now written one
    /// operator early, share its space would change the result.
    func testExpansionDepthwiseFusion() throws {
        let cases = [ExpansionBlock(n: 1, h: 64, w: 64, cin: 8, expanded: 32, stride: 1, activation: .relu6),
                     ExpansionBlock(n: 2, h: 35, w: 47, cin: 5, expanded: 40, stride: 2, activation: .none),
                     ExpansionBlock(n: 1, h: 56, w: 56, cin: 24, expanded: 144, stride: 2, activation: .relu6),
                     ExpansionBlock(n: 1, h: 57, w: 29, cin: 16, expanded: 96, stride: 1, activation: .relu),
                     // Channels not a multiple of 8: the planar ring rows' last block is partial.
                     ExpansionBlock(n: 1, h: 64, w: 64, cin: 6, expanded: 37, stride: 2, activation: .relu6),
                     ExpansionBlock(n: 1, h: 190, w: 190, cin: 3, expanded: 20, stride: 1, activation: .relu6,
                                    filter: 3, expansionStride: 2),
                     // MobileNetV2's first layer (3x3 stride 2 on RGB) and its depthwise layer; odd sizes and a
                     // batch of 2 put windows on the padding in every band.
                     ExpansionBlock(n: 1, h: 128, w: 128, cin: 3, expanded: 32, stride: 1, activation: .relu6,
                                    filter: 3, expansionStride: 2),
                     ExpansionBlock(n: 2, h: 91, w: 97, cin: 3, expanded: 32, stride: 2, activation: .none,
                                    filter: 3, expansionStride: 2),
                     // 20 channels: the 24-column tile into the planar ring.
                     ExpansionBlock(n: 1, h: 64, w: 61, cin: 8, expanded: 20, stride: 1, activation: .relu6),
                     // MobileNetV2's 14x14 blocks; 90 channels: six panels, the last of 10 channels.
                     ExpansionBlock(n: 1, h: 14, w: 14, cin: 64, expanded: 384, stride: 1, activation: .relu6),
                     ExpansionBlock(n: 1, h: 15, w: 13, cin: 40, expanded: 384, stride: 2, activation: .relu6),
                     ExpansionBlock(n: 2, h: 28, w: 27, cin: 12, expanded: 90, stride: 1, activation: .relu6),
                     // Few rows (expanded tensors of 256 KB or more, so they fuse): the panels split too.
                     ExpansionBlock(n: 1, h: 6, w: 128, cin: 12, expanded: 90, stride: 1, activation: .relu6),
                     ExpansionBlock(n: 1, h: 7, w: 72, cin: 24, expanded: 144, stride: 2, activation: .relu6)]
        try checkAgainstDisabled(cases, seed: 500, fuses: false) { c, threads, unfused, fused in
            XCTAssertEqual(unfused.fused, [:])
            // The projection (3; 8 outputs, at most 12 KB of weights) runs inside the pair too.
            XCTAssertEqual(fused.fused, KernelFusion.available ? [2: 1, 3: 1] : [:],
                           "\(c): the depthwise operator (2) runs inside the expansion (1) on AVX2 + FMA CPUs")
        }
    }

    /// The projection fused into the expansion + depthwise pair (`KernelFusion.fuseProjections`):
    /// the output equals the unfused kernels' (and the reference's within 1e-4) with the residual ADD fused into the
    /// projection (the block's input read as the ADD's operand), zero skipping in the projection (dead channels),
    /// rows whose pixels are not whole 6-pixel tiles (25, 29, 31 and 49 wide: pixels carried to the next row), two
    /// images, the first layer's windowed producer, and partial channel blocks, at 1-3 threads (with several, row
    /// bands of 4 rows or more whose edges are computed twice, claimed from both ends). Projections with more than
    /// `maximumProjectionWeightBytes` of weights (18 and 34 KB) keep the pair alone.
    func testProjectionFusion() throws {
        let cases = [ExpansionBlock(n: 1, h: 56, w: 56, cin: 24, expanded: 144, stride: 1, activation: .relu6,
                                    projected: 24, residual: true),
                     ExpansionBlock(n: 2, h: 29, w: 29, cin: 16, expanded: 96, stride: 1, activation: .relu6,
                                    projected: 16, deadEvery: 3, residual: true),
                     // 64 outputs from 64 channels (16 KB of weights): fused, and skipping zeros.
                     ExpansionBlock(n: 1, h: 45, w: 25, cin: 64, expanded: 64, stride: 1, activation: .relu6,
                                    projected: 64, deadEvery: 2, residual: true),
                     ExpansionBlock(n: 1, h: 45, w: 13, cin: 72, expanded: 120, stride: 1, activation: .relu6,
                                    projected: 72, deadEvery: 2, residual: true),
                     ExpansionBlock(n: 1, h: 64, w: 61, cin: 8, expanded: 37, stride: 2, activation: .relu6,
                                    projected: 20),
                     ExpansionBlock(n: 2, h: 91, w: 97, cin: 3, expanded: 32, stride: 1, activation: .relu6,
                                    filter: 3, expansionStride: 2, projected: 16),
                     // 96 x 48 floats of projection weights (18 KB): not fused.
                     ExpansionBlock(n: 1, h: 56, w: 56, cin: 24, expanded: 96, stride: 1, activation: .relu6,
                                    projected: 48)]
        try checkAgainstDisabled(cases, seed: 800, fuses: false) { c, threads, unfused, fused in
            guard KernelFusion.available else { return XCTAssertEqual(fused.fused, [:]) }
            let projects = c.expanded * c.projected * 4 <= KernelFusion.maximumProjectionWeightBytes
            var expected = [2: 1]
            if projects { expected[3] = 1 }
            if c.residual { expected[4] = projects ? 1 : 3 }
            XCTAssertEqual(fused.fused, expected, "\(c) threads \(threads)")
            XCTAssertEqual(fused.skipping, c.projected >= ZeroSkipping.minimumOutputChannels ? [3] : [],
                           "\(c) threads \(threads)")
        }
    }

    /// A residual ADD fused into the pointwise convolution before it (`ResidualAdd`): the model is a 1×1
    /// convolution `pre`, a 1×1 convolution `y` of `pre` with activation `a1`, then ADD(y, pre) or ADD(pre, y) with
    /// activation `a2`. Fused (operator 2 inside 1 on AVX2 + FMA CPUs), the output equals the unfused kernels' and
    /// the reference's within 1e-4, at 1-3 threads, for 7x7 and 14x14 images (5-row and short tiles), a batch of
    /// 2, 24 and 40 channels (a last panel of 8 columns, a partial one), the ADD's operand in either place, and a
    /// convolution that also skips zeros (its input a ReLU's output, 64 channels or more).
    /// Not fused: one pixel (the k-major matrix-vector path), a broadcast operand, and a convolution output that is
    /// also a graph output.
    func testResidualAddFusion() throws {
        struct Case {
            var n = 1, h: Int, w: Int, c: Int
            /// `pre`'s activation: with ReLU6 and 64 channels or more, `y` also skips zeros.
            var a0 = FusedActivation.none
            var a1 = FusedActivation.none, a2 = FusedActivation.none
            var convFirst = true, broadcast = false, convIsOutput = false
            var fuses: Bool { h * w * n > 1 && !broadcast && !convIsOutput }
        }
        let cases = [Case(h: 7, w: 7, c: 24), Case(n: 2, h: 5, w: 9, c: 40, a1: .relu, a2: .relu6, convFirst: false),
                     Case(h: 14, w: 14, c: 16, a2: .relu), Case(h: 3, w: 2, c: 33, a1: .relu6, convFirst: false),
                     Case(h: 7, w: 7, c: 72, a0: .relu6, a2: .relu6), Case(n: 2, h: 4, w: 5, c: 64, a0: .relu),
                     Case(h: 1, w: 1, c: 24), Case(h: 6, w: 6, c: 16, broadcast: true),
                     Case(h: 6, w: 6, c: 16, convIsOutput: true)]
        for (i, c) in cases.enumerated() {
            var rng = SeededGenerator(seed: 900 + UInt64(i))
            func random(_ count: Int) -> [Float] { (0..<count).map { _ in Float.random(in: -1...1, using: &rng) } }
            var b = OpModelBuilder()
            let shape = [c.n, c.h, c.w, c.c]
            func conv(_ x: Int, _ name: String, _ act: FusedActivation, isOutput: Bool) -> Int {
                let w = b.constant("\(name).w", .float32, [c.c, 1, 1, c.c], bytes: Bytes.of(random(c.c * c.c)))
                let bias = b.constant("\(name).b", .float32, [c.c], bytes: Bytes.of(random(c.c)))
                let y = b.tensor(name, .float32, shape, isOutput: isOutput)
                var o = Conv2DOptions()
                o.activation = act; o.padding = .same
                b.op(.conv2D, inputs: [x, w, bias], outputs: [y], options: .conv2D(o), version: 2)
                return y
            }
            let x = b.input("x", .float32, shape)
            let pre = conv(x, "pre", c.a0, isOutput: false)
            let y = conv(pre, "y", c.a1, isOutput: c.convIsOutput)
            let other = c.broadcast
                ? b.constant("row", .float32, [1, 1, 1, c.c], bytes: Bytes.of(random(c.c))) : pre
            let sum = b.tensor("sum", .float32, shape, isOutput: true)
            b.op(.add, inputs: c.convFirst ? [y, other] : [other, y], outputs: [sum],
                 options: .arithmetic(activation: c.a2))
            let (model, input) = (b.build(), Bytes.of(random(c.n * c.h * c.w * c.c)))
            let reference = try run(model, input, kernels: .reference).output
            for threads in [1, 2, 3] {
                let unfused = try run(model, input, kernels: .optimized, threads: threads, fuses: false)
                let fused = try run(model, input, kernels: .optimized, threads: threads)
                XCTAssertEqual(fused.fused, KernelFusion.available && c.fuses ? [2: 1] : [:], "\(c)")
                XCTAssertEqual(fused.skipping, KernelFusion.available && c.a0 != .none && c.c >= 64 ? [1] : [],
                               "\(c): y skips zeros where its input is a ReLU's output")
                XCTAssertEqual(fused.output, unfused.output, "\(c) threads \(threads)")
                XCTAssertLessThanOrEqual(worstRelativeError(fused.output, reference), 1e-4, "\(c) threads \(threads)")
            }
        }
    }

    /// For each case (seeds from `seed`) at 1-3 threads: the optimized kernels with everything on give the same
    /// output as with the features given as false turned off, and the reference's within 1e-4; `check` looks at
    /// which operators each run fused or made skip zeros.
    func checkAgainstDisabled(_ cases: [ExpansionBlock], seed: UInt64, fuses: Bool = true, skipsZeros: Bool = true,
                              check: (ExpansionBlock, _ threads: Int, Run, Run) -> Void) throws {
        for (i, c) in cases.enumerated() {
            let (model, input) = c.build(seed: seed + UInt64(i))
            let reference = try run(model, input, kernels: .reference).output
            for threads in [1, 2, 3] {
                let off = try run(model, input, kernels: .optimized, threads: threads, fuses: fuses,
                                  skipsZeros: skipsZeros)
                let on = try run(model, input, kernels: .optimized, threads: threads)
                check(c, threads, off, on)
                XCTAssertEqual(on.output, off.output, "\(c) threads \(threads)")
                XCTAssertLessThanOrEqual(worstRelativeError(on.output, reference), 1e-4, "\(c) threads \(threads)")
            }
        }
    }

    /// No fusion where it would not pay or not be correct: an expanded tensor that is also a graph output, one
    /// under 256 KB, and an expansion with more than 256 KB of weights.
    func testFusionDeclined() throws {
        let cases = [ExpansionBlock(n: 1, h: 64, w: 64, cin: 8, expanded: 32, stride: 1, activation: .relu6,
                                expandedIsOutput: true),
                     ExpansionBlock(n: 1, h: 10, w: 10, cin: 64, expanded: 384, stride: 1, activation: .relu6),
                     ExpansionBlock(n: 1, h: 24, w: 24, cin: 160, expanded: 480, stride: 1, activation: .relu6)]
        for (i, c) in cases.enumerated() {
            let (model, input) = c.build(seed: 600 + UInt64(i))
            let fused = try run(model, input, kernels: .optimized, threads: 2)
            XCTAssertEqual(fused.fused, [:], "\(c)")
            XCTAssertEqual(fused.output, try run(model, input, kernels: .optimized, threads: 2, fuses: false).output)
        }
    }

    /// Whole float models from the shared test data: optimized output against LiteRT's reference output, within
    /// the drift LiteRT's own XNNPACK shows (with a floor of 1e-5), and the same top-1.
    /// The optimized float SOFTMAX (`mf_softmax_rows` on AVX-512 hosts; the reference elsewhere) against the reference:
    /// within 1e-5 relative to the row's largest output, over depths around the 16-lane vector (1, 15-17, 33, 1001),
    /// several rows, betas 1, 0.37 and 2.5, inputs spread over [-30, 30] and single values far below the row's largest
    /// (exp underflows to 0 in both); a row holding a NaN is NaN throughout in both.
    func testSoftmax() throws {
        var rng = SeededGenerator(seed: 900)
        for (rows, depth) in [(1, 1), (2, 15), (3, 16), (1, 17), (2, 33), (1, 1001)] {
            for beta: Float in [1, 0.37, 2.5] {
                var b = OpModelBuilder()
                let x = b.input("x", .float32, [rows, depth])
                let y = b.tensor("y", .float32, [rows, depth])
                b.op(.softmax, inputs: [x], outputs: [y], options: .softmax(beta: beta))
                var values = (0..<rows * depth).map { _ in Float.random(in: -30...30, using: &rng) }
                if depth > 2 { values[1] = -500; values[depth - 1] = -90 }
                let expected = Bytes.floats(try b.run([Bytes.of(values)], kernels: .reference)[0])
                let actual = Bytes.floats(try b.run([Bytes.of(values)], kernels: .optimized)[0])
                for r in 0..<rows {
                    let row = r * depth ..< (r + 1) * depth
                    let scale = max(expected[row].max() ?? 0, 1e-30)
                    let worst = row.map { abs(actual[$0] - expected[$0]) / scale }.max() ?? 0
                    XCTAssertLessThanOrEqual(worst, 1e-5, "rows \(rows) depth \(depth) beta \(beta) row \(r)")
                    XCTAssertEqual(row.map { actual[$0] }.reduce(0, +), 1, accuracy: 1e-5)
                }
            }
        }
        var b = OpModelBuilder()
        let x = b.input("x", .float32, [2, 20])
        let y = b.tensor("y", .float32, [2, 20])
        b.op(.softmax, inputs: [x], outputs: [y], options: .softmax(beta: 1))
        var values = (0..<40).map { Float($0 % 7) }
        values[25] = .nan
        let expected = Bytes.floats(try b.run([Bytes.of(values)], kernels: .reference)[0])
        let actual = Bytes.floats(try b.run([Bytes.of(values)], kernels: .optimized)[0])
        XCTAssertTrue(expected[20...].allSatisfy { $0.isNaN } && actual[20...].allSatisfy { $0.isNaN })
        for i in 0..<20 { XCTAssertEqual(actual[i], expected[i], accuracy: 1e-6) }
    }

    func testGoldenFloatModels() throws {
        let root = try TestData.require()
        var checked = 0
        for model in ["mobilenet_v2_1.0_224_float", "mobilenet_v1_0.25_128_float"] {
            let dir = root.appendingPathComponent("golden/\(model)")
            guard let cases = try? FileManager.default.contentsOfDirectory(atPath: dir.path) else { continue }
            for threads in [1, 2] {
                let interpreter = try Interpreter(modelPath: root.appendingPathComponent("models/\(model).tflite").path,
                                                  options: .init(threadCount: threads, kernels: .optimized))
                try interpreter.allocateTensors()
                for name in cases.sorted() {
                    let caseDir = dir.appendingPathComponent(name)
                    guard let input = FileManager.default.contents(atPath: caseDir.appendingPathComponent("input_0.bin").path)
                    else { continue }
                    let reference = Bytes.floats(Array(try Data(contentsOf: caseDir.appendingPathComponent("output_0.ref.bin"))))
                    let xnn = Bytes.floats(Array(try Data(contentsOf: caseDir.appendingPathComponent("output_0.xnn.bin"))))
                    try interpreter.copy(input, toInputAt: 0)
                    try interpreter.invoke()
                    let actual = Bytes.floats(Array(try interpreter.output(at: 0).data))
                    XCTAssertEqual(actual.count, reference.count)
                    let drift = max(1e-5, zip(xnn, reference).map { abs($0 - $1) }.max() ?? 0)
                    let error = zip(actual, reference).map { abs($0 - $1) }.max() ?? 0
                    XCTAssertLessThanOrEqual(error, drift * 1.5, "\(model)/\(name) threads \(threads)")
                    let top = actual.indices.max { actual[$0] < actual[$1] }
                    let refTop = reference.indices.max { reference[$0] < reference[$1] }
                    XCTAssertEqual(top, refTop, "\(model)/\(name) top-1")
                    checked += 1
                }
            }
        }
        XCTAssertGreaterThan(checked, 0)
    }
}
