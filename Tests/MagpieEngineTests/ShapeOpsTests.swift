import Foundation
import XCTest
import MagpieEngine
import MagpieModel
import MagpieTestSupport

/// Differential tests of the shape, data-movement, resize and arg-max operators against LiteRT's reference
/// kernels (several operators per model to keep the Python start-ups few).
final class ShapeOpsTests: XCTestCase {
    // MARK: - Data movement, every element type

    /// One model per element type exercising SQUEEZE, CONCATENATION, SPLIT, PACK, UNPACK, PAD, PADV2, TRANSPOSE,
    /// GATHER, GATHER_ND and STRIDED_SLICE on shared inputs.
    func dataMovementModel(_ type: TensorType, _ q: QuantizationParameters?, seed: UInt64) -> (OpModelBuilder, [[UInt8]]) {
        var g = SeededGenerator(seed: seed)
        var b = OpModelBuilder()
        var inputs: [[UInt8]] = []
        func input(_ name: String, _ shape: [Int]) -> Int {
            inputs.append(ShapeTest.random(type, shape.reduce(1, *), &g))
            return b.input(name, type, shape, quantization: q)
        }
        func out(_ name: String, _ shape: [Int]) -> Int { b.tensor(name, type, shape, quantization: q) }
        func i32(_ name: String, _ values: [Int], _ shape: [Int]) -> Int {
            b.constant(name, .int32, shape, bytes: ShapeTest.bytes(values, as: .int32))
        }
        func i64(_ name: String, _ values: [Int], _ shape: [Int]) -> Int {
            b.constant(name, .int64, shape, bytes: ShapeTest.bytes(values, as: .int64))
        }
        let x = input("x", [2, 3, 4, 5])
        let y = input("y", [2, 3, 1, 5])
        let y2 = input("y2", [2, 3, 1, 5])
        let z = input("z", [2, 3, 7, 5])
        let s = input("s", [1, 3, 1, 5])
        let w = input("w", [2, 1, 3, 2, 2, 3])
        let v = input("v", [7])
        let w8 = input("w8", [2, 1, 2, 1, 3, 1, 2, 2])

        // SQUEEZE
        b.op(.squeeze, inputs: [s], outputs: [out("squeeze_all", [3, 5])], options: .squeeze(dims: []))
        b.op(.squeeze, inputs: [s], outputs: [out("squeeze_neg", [1, 3, 5])], options: .squeeze(dims: [-2]))
        b.op(.squeeze, inputs: [s], outputs: [out("squeeze_twice", [3, 1, 5])], options: .squeeze(dims: [0, 0]))
        // CONCATENATION
        b.op(.concatenation, inputs: [x, y, z], outputs: [out("concat_axis2", [2, 3, 12, 5])],
             options: .concatenation(axis: 2, activation: .none))
        b.op(.concatenation, inputs: [x, x], outputs: [out("concat_last", [2, 3, 4, 10])],
             options: .concatenation(axis: -1, activation: .none))
        b.op(.concatenation, inputs: [x, x, x], outputs: [out("concat_first", [6, 3, 4, 5])],
             options: .concatenation(axis: -4, activation: .none))
        b.op(.concatenation, inputs: [v], outputs: [out("concat_one", [7])], options: .concatenation(axis: 0, activation: .none))
        // SPLIT (no bool in TFLite)
        if type != .bool {
            let axis1 = i32("split_axis1", [1], [])
            b.op(.split, inputs: [axis1, x], outputs: (0..<3).map { out("split1_\($0)", [2, 1, 4, 5]) }, options: .split(numSplits: 3))
            let axisNeg = i32("split_axis_neg", [-1], [1])
            b.op(.split, inputs: [axisNeg, x], outputs: (0..<5).map { out("splitneg_\($0)", [2, 3, 4, 1]) }, options: .split(numSplits: 5))
            b.op(.split, inputs: [axis1, x], outputs: [out("split_whole", [2, 3, 4, 5])], options: .split(numSplits: 1))
        }
        // PACK (no bool in TFLite)
        if type != .bool {
            b.op(.pack, inputs: [y, y2, y], outputs: [out("pack0", [3, 2, 3, 1, 5])],
                 options: .pack(valuesCount: 3, axis: 0))
            b.op(.pack, inputs: [x, x], outputs: [out("pack2", [2, 3, 2, 4, 5])], options: .pack(valuesCount: 2, axis: 2))
            b.op(.pack, inputs: [v, v, v, v], outputs: [out("pack_last", [7, 4])], options: .pack(valuesCount: 4, axis: -1))
        }
        // UNPACK (no int64 in TFLite)
        if type != .int64 {
            b.op(.unpack, inputs: [x], outputs: (0..<3).map { out("unpack1_\($0)", [2, 4, 5]) }, options: .unpack(num: 3, axis: 1))
            b.op(.unpack, inputs: [x], outputs: (0..<5).map { out("unpackneg_\($0)", [2, 3, 4]) }, options: .unpack(num: 5, axis: -1))
            b.op(.unpack, inputs: [v], outputs: (0..<7).map { out("unpackv_\($0)", []) }, options: .unpack(num: 7, axis: 0))
        }
        // PAD and PADV2 (int32 and int64 paddings)
        let p32 = i32("pad32", [0, 1, 2, 0, 1, 1, 0, 3], [4, 2])
        b.op(.pad, inputs: [x, p32], outputs: [out("pad32", [3, 5, 6, 8])])
        let p64 = i64("pad64", [3, 2], [1, 2])
        b.op(.pad, inputs: [v, p64], outputs: [out("pad64", [12])])
        let padValue = b.constant("pad_value", type, [], bytes: ShapeTest.random(type, 1, &g), quantization: q)
        b.op(.padV2, inputs: [x, p32, padValue], outputs: [out("padv2", [3, 5, 6, 8])])
        let pZero = i32("pad_zero", [0, 0, 0, 0, 0, 0, 0, 0], [4, 2])
        b.op(.pad, inputs: [x, pZero], outputs: [out("pad_none", [2, 3, 4, 5])])
        // TRANSPOSE (up to 8-D, a negative entry)
        b.op(.transpose, inputs: [x, i32("perm4", [3, 1, 0, 2], [4])], outputs: [out("transpose4", [5, 3, 2, 4])])
        b.op(.transpose, inputs: [w, i32("perm6", [-1, 0, 4, 2, 1, 3], [6])], outputs: [out("transpose6", [3, 2, 2, 3, 1, 2])])
        b.op(.transpose, inputs: [v, i32("perm1", [0], [1])], outputs: [out("transpose1", [7])])
        b.op(.transpose, inputs: [w8, i32("perm8", [7, 4, 0, 6, 2, 5, 1, 3], [8])], outputs: [out("transpose8", [2, 3, 2, 2, 2, 1, 1, 1])])
        // GATHER
        let idx = i32("gather_idx", [3, 0, 1, 1, 2, 0], [3, 2])
        b.op(.gather, inputs: [x, idx], outputs: [out("gather_axis2", [2, 3, 3, 2, 5])], options: .gather(axis: 2, batchDims: 0))
        let idxB = i64("gather_idx_b", [4, 0, 2, 2, 1, 3, 3, 0], [2, 4])
        b.op(.gather, inputs: [x, idxB], outputs: [out("gather_batch", [2, 3, 4, 4])], options: .gather(axis: -1, batchDims: 1))
        let idxS = i32("gather_scalar", [6], [])
        b.op(.gather, inputs: [v, idxS], outputs: [out("gather_scalar", [])], options: .gather(axis: 0, batchDims: 0))
        let idxN = i64("gather_neg_batch", [1, 0, 2, 0, 1, 2, 2, 2, 2, 1, 0, 0], [2, 3, 2])
        b.op(.gather, inputs: [x, idxN], outputs: [out("gather_batch_neg", [2, 3, 2, 5])], options: .gather(axis: 2, batchDims: -1))
        // GATHER_ND
        let nd2 = i32("nd2", [1, 2, 0, 0, 1, 1], [3, 2])
        b.op(.gatherND, inputs: [x, nd2], outputs: [out("gather_nd2", [3, 4, 5])])
        let nd4 = i64("nd4", [1, 2, 3, 4, 0, 0, 0, 0, 1, 1, 2, 3, 0, 2, 1, 0], [2, 2, 4])
        b.op(.gatherND, inputs: [x, nd4], outputs: [out("gather_nd4", [2, 2])])
        let nd1 = i32("nd1", [6, 0, 3], [3, 1])
        b.op(.gatherND, inputs: [v, nd1], outputs: [out("gather_nd1", [3])])
        // STRIDED_SLICE (a plain one here; the masks have their own test)
        b.op(.stridedSlice, inputs: [x, i32("ss_b", [0, 1, -3, 4], [4]), i32("ss_e", [2, 3, 4, 0], [4]), i32("ss_s", [1, 1, 2, -2], [4])],
             outputs: [out("strided", [2, 2, 2, 2])], options: .stridedSlice(StridedSliceOptions()))
        return (b, inputs)
    }

    func testDataMovementMatchesLiteRTForEveryType() throws {
        let cases: [(TensorType, QuantizationParameters?)] = [
            (.float32, nil), (.uint8, ShapeTest.q(0.5, 3)), (.int8, ShapeTest.q(0.125, -7)),
            (.int32, nil), (.int64, nil), (.bool, nil),
        ]
        for (n, (type, q)) in cases.enumerated() {
            let (b, inputs) = dataMovementModel(type, q, seed: 100 + UInt64(n))
            try ShapeTest.assertMatchesLiteRT(b, inputs, label: "\(type)")
        }
    }

    // MARK: - STRIDED_SLICE masks

    func testStridedSliceMasksMatchLiteRT() throws {
        var g = SeededGenerator(seed: 7)
        var b = OpModelBuilder()
        let x = b.input("x", .float32, [3, 4, 5, 6])
        let v = b.input("v", .int8, [9], quantization: ShapeTest.q(1, 0))
        let inputs = [ShapeTest.random(.float32, 360, &g), ShapeTest.random(.int8, 9, &g)]
        var n = 0
        func slice(_ input: Int, _ type: TensorType, _ begin: [Int], _ end: [Int], _ strides: [Int], _ shape: [Int],
                   begin bm: Int32 = 0, end em: Int32 = 0, ellipsis: Int32 = 0, newAxis: Int32 = 0, shrink: Int32 = 0,
                   offset: Bool = false) {
            n += 1
            var o = StridedSliceOptions()
            o.beginMask = bm; o.endMask = em; o.ellipsisMask = ellipsis; o.newAxisMask = newAxis; o.shrinkAxisMask = shrink
            o.offset = offset
            let k = begin.count
            let bt = b.constant("b\(n)", .int32, [k], bytes: ShapeTest.bytes(begin, as: .int32))
            let et = b.constant("e\(n)", .int32, [k], bytes: ShapeTest.bytes(end, as: .int32))
            let st = b.constant("s\(n)", .int32, [k], bytes: ShapeTest.bytes(strides, as: .int32))
            let y = b.tensor("slice\(n)", type, shape, quantization: type == .int8 ? ShapeTest.q(1, 0) : nil)
            b.op(.stridedSlice, inputs: [input, bt, et, st], outputs: [y], options: .stridedSlice(o))
        }
        slice(x, .float32, [1, 0, 0, 0], [3, 4, 5, 6], [1, 1, 1, 1], [2, 4, 5, 6])
        // Negative strides, clamping past both ends.
        slice(x, .float32, [-1, 3, 10, 5], [-4, 0, -9, 0], [-1, -2, -3, -1], [3, 2, 2, 5])
        // begin/end masks: axes 1 and 3 start from their first element, axes 0 and 2 run to their end.
        slice(x, .float32, [2, 3, 1, 4], [0, 1, 0, 1], [1, -1, 2, -2], [1, 3, 2, 3], begin: 0b1010, end: 0b0101)
        // Shrink axes 0 (negative index) and 2.
        slice(x, .float32, [-1, 0, 2, 0], [0, 4, 3, 6], [1, 2, 1, 3], [2, 2], shrink: 0b0101)
        // A new axis at position 1 (its begin/end are ignored).
        slice(x, .float32, [0, 7, 1, 0, 0], [2, 9, 4, 5, 6], [1, 1, 1, 2, 3], [2, 1, 3, 3, 2], newAxis: 0b00010)
        // Ellipsis first: x[..., 1:4:2].
        slice(x, .float32, [0, 1], [0, 4], [1, 2], [3, 4, 5, 2], ellipsis: 0b01)
        // Ellipsis in the middle with a new axis after it: x[1, ..., newaxis, 2:5].
        slice(x, .float32, [1, 0, 0, 2], [2, 0, 0, 5], [1, 1, 1, 1], [4, 5, 1, 3], ellipsis: 0b0010, newAxis: 0b0100, shrink: 0b0001)
        // Fewer entries than dimensions: x[1:3].
        slice(x, .float32, [1], [3], [1], [2, 4, 5, 6])
        // Begin past the end, strides larger than the dimension.
        slice(x, .float32, [5, -10, 0, 0], [10, 10, 5, 6], [1, 1, 4, 7], [0, 4, 2, 1])
        slice(x, .float32, [0, 0, 0, 0], [3, 4, 5, 6], [4, 5, 6, 7], [1, 1, 1, 1])
        // Offset: end holds sizes.
        slice(x, .float32, [0, 1, 2, 0], [2, 2, 2, 3], [1, 1, 1, 2], [2, 2, 2, 2], offset: true)
        // Whole-tensor reverse of a vector, and a shrink to a scalar.
        slice(v, .int8, [0], [0], [-1], [9], begin: 1, end: 1)
        slice(v, .int8, [-2], [0], [1], [], shrink: 1)
        slice(v, .int8, [8], [1], [-3], [3])
        try ShapeTest.assertMatchesLiteRT(b, inputs)
    }

    // MARK: - Quantized CONCATENATION and PAD

    func testUInt8ConcatenationRequantizesLikeLiteRT() throws {
        var g = SeededGenerator(seed: 11)
        var b = OpModelBuilder()
        let params: [(Float, Int)] = [(0.5, 0), (0.02, 255), (0.001, 128), (100, 7), (0.0078125, 128)]
        var ins: [Int] = [], data: [[UInt8]] = []
        for (i, (s, z)) in params.enumerated() {
            ins.append(b.input("in\(i)", .uint8, [2, 3, 1 + i], quantization: ShapeTest.q(s, z)))
            data.append(ShapeTest.random(.uint8, 2 * 3 * (1 + i), &g))
        }
        // Outputs matching one input exactly (copied), ordinary, saturating low and high, and a tiny scale.
        let outputs: [(Float, Int)] = [(0.0078125, 128), (0.1, 0), (0.25, 255), (1e-5, 100), (3.7, 13)]
        for (k, (s, z)) in outputs.enumerated() {
            let y = b.tensor("concat\(k)", .uint8, [2, 3, 15], quantization: ShapeTest.q(s, z))
            b.op(.concatenation, inputs: ins, outputs: [y], options: .concatenation(axis: -1, activation: .none))
        }
        // The deeplab configuration: equal parameters, plain copy.
        let a = b.input("a", .uint8, [1, 5, 5, 8], quantization: ShapeTest.q(0.029082998633384705, 0))
        let c = b.input("c", .uint8, [1, 5, 5, 8], quantization: ShapeTest.q(0.029082998633384705, 0))
        data.append(ShapeTest.random(.uint8, 200, &g)); data.append(ShapeTest.random(.uint8, 200, &g))
        let y = b.tensor("deeplab_concat", .uint8, [1, 5, 5, 16], quantization: ShapeTest.q(0.029082998633384705, 0))
        b.op(.concatenation, inputs: [a, c], outputs: [y], options: .concatenation(axis: 3, activation: .none))
        try ShapeTest.assertMatchesLiteRT(b, data)
    }

    func testQuantizedPadUsesZeroPointLikeLiteRT() throws {
        var g = SeededGenerator(seed: 13)
        var b = OpModelBuilder()
        var data: [[UInt8]] = []
        let paddings = b.constant("p", .int32, [3, 2], bytes: ShapeTest.bytes([1, 0, 2, 1, 0, 3], as: .int32))
        let cases: [(TensorType, QuantizationParameters?)] = [
            (.uint8, ShapeTest.q(0.1, 0)), (.uint8, ShapeTest.q(0.1, 255)), (.uint8, ShapeTest.q(2, 77)),
            (.int8, ShapeTest.q(0.1, -128)), (.int8, ShapeTest.q(0.1, 127)), (.int8, ShapeTest.q(0.3, 5)), (.int8, nil),
            (.float32, nil), (.int32, nil), (.int64, nil), (.bool, nil),
        ]
        for (i, (type, q)) in cases.enumerated() {
            let x = b.input("x\(i)", type, [2, 3, 4], quantization: q)
            data.append(ShapeTest.random(type, 24, &g))
            b.op(.pad, inputs: [x, paddings], outputs: [b.tensor("pad\(i)", type, [3, 6, 7], quantization: q)])
            // PADV2 with a value carrying the output's quantization.
            let value = b.constant("value\(i)", type, [1], bytes: ShapeTest.random(type, 1, &g), quantization: q)
            b.op(.padV2, inputs: [x, paddings, value], outputs: [b.tensor("padv2_\(i)", type, [3, 6, 7], quantization: q)])
        }
        try ShapeTest.assertMatchesLiteRT(b, data)
    }

    // MARK: - Resizing

    func resizeModel(_ type: TensorType, seed: UInt64) -> (OpModelBuilder, [[UInt8]]) {
        var g = SeededGenerator(seed: seed)
        var b = OpModelBuilder()
        var data: [[UInt8]] = []
        let q: QuantizationParameters? = type == .float32 ? nil : (type == .uint8 ? ShapeTest.q(0.18857865, 34) : ShapeTest.q(0.05, -3))
        let images: [[Int]] = [[1, 5, 7, 3], [2, 4, 3, 17], [1, 1, 1, 8], [1, 9, 6, 1]]
        var inputIndex: [Int] = []
        for (i, shape) in images.enumerated() {
            inputIndex.append(b.input("image\(i)", type, shape, quantization: q))
            data.append(ShapeTest.random(type, shape.reduce(1, *), &g))
        }
        let sizes: [[(Int, Int)]] = [
            [(9, 13), (3, 4), (5, 7), (1, 1), (10, 14)],
            [(8, 6), (4, 3), (2, 5)],
            [(33, 33), (3, 2)],
            [(17, 11), (4, 4), (1, 5)],
        ]
        var n = 0
        for (i, list) in sizes.enumerated() {
            for (h, w) in list {
                let size = b.constant("size\(n)", .int32, [2], bytes: ShapeTest.bytes([h, w], as: .int32))
                for (align, half) in [(false, false), (true, false), (false, true)] {
                    let shape = [images[i][0], h, w, images[i][3]]
                    let y = b.tensor("bilinear\(n)_\(align)_\(half)", type, shape, quantization: q)
                    b.op(.resizeBilinear, inputs: [inputIndex[i], size], outputs: [y],
                         options: .resize(alignCorners: align, halfPixelCenters: half))
                    let z = b.tensor("nearest\(n)_\(align)_\(half)", type, shape, quantization: q)
                    b.op(.resizeNearestNeighbor, inputs: [inputIndex[i], size], outputs: [z],
                         options: .resize(alignCorners: align, halfPixelCenters: half))
                }
                n += 1
            }
        }
        // align_corners together with half_pixel_centers is valid for nearest neighbour.
        let size = b.constant("size_both", .int32, [2], bytes: ShapeTest.bytes([11, 4], as: .int32))
        b.op(.resizeNearestNeighbor, inputs: [inputIndex[0], size], outputs: [b.tensor("nearest_both", type, [1, 11, 4, 3], quantization: q)],
             options: .resize(alignCorners: true, halfPixelCenters: true))
        return (b, data)
    }

    func testResizeFloatMatchesLiteRT() throws {
        let (b, data) = resizeModel(.float32, seed: 21)
        try ShapeTest.assertMatchesLiteRT(b, data, floatTolerance: 1e-5)
    }

    func testResizeUInt8MatchesLiteRT() throws {
        let (b, data) = resizeModel(.uint8, seed: 22)
        try ShapeTest.assertMatchesLiteRT(b, data)
    }

    func testResizeInt8MatchesLiteRT() throws {
        let (b, data) = resizeModel(.int8, seed: 23)
        try ShapeTest.assertMatchesLiteRT(b, data)
    }

    // MARK: - ARG_MAX

    func testArgMaxMatchesLiteRT() throws {
        var g = SeededGenerator(seed: 31)
        var b = OpModelBuilder()
        var data: [[UInt8]] = []
        func axis(_ v: Int, _ type: TensorType = .int32) -> Int {
            b.constant("axis\(b.tensors.count)", type, [1], bytes: ShapeTest.bytes([v], as: type))
        }
        // float32 with ties and NaNs.
        var floats = (0..<70).map { _ in Float(Int.random(in: -3...3, using: &g)) }
        floats[0] = .nan; floats[13] = .nan; floats[14] = .nan
        for k in 35..<42 { floats[k] = .nan }
        let f = b.input("f", .float32, [2, 5, 7])
        data.append(Bytes.of(floats))
        b.op(.argMax, inputs: [f, axis(1)], outputs: [b.tensor("f_axis1", .int32, [2, 7])], options: .argMax(outputType: .int32))
        // The last axis without NaNs: LiteRT runs its optimized SIMD arg-max there, whose NaN handling follows SSE
        // min/max operand order rather than the reference comparator (see ArgMax.swift).
        let h = b.input("h", .float32, [3, 21])
        data.append(Bytes.of((0..<63).map { _ in Float(Int.random(in: -2...2, using: &g)) }))
        b.op(.argMax, inputs: [h, axis(-1, .int64)], outputs: [b.tensor("h_last", .int64, [3])], options: .argMax(outputType: .int64))
        let h7 = b.input("h7", .float32, [5, 7])
        data.append(Bytes.of((0..<35).map { _ in Float(Int.random(in: -3...3, using: &g)) }))
        b.op(.argMax, inputs: [h7, axis(1)], outputs: [b.tensor("h7_last", .int32, [5])], options: .argMax(outputType: .int32))
        b.op(.argMax, inputs: [f, axis(0)], outputs: [b.tensor("f_first", .int32, [5, 7])], options: .argMax(outputType: .int32))
        // uint8 as in deeplab: [1, H, W, 21] over the channels, int64 output, many ties.
        let u = b.input("u", .uint8, [1, 9, 9, 21], quantization: ShapeTest.q(0.18857865, 34))
        data.append((0..<(81 * 21)).map { _ in UInt8.random(in: 250...255, using: &g) })
        b.op(.argMax, inputs: [u, axis(3)], outputs: [b.tensor("u_channels", .int64, [1, 9, 9])], options: .argMax(outputType: .int64))
        b.op(.argMax, inputs: [u, axis(1)], outputs: [b.tensor("u_rows", .int32, [1, 9, 21])], options: .argMax(outputType: .int32))
        let i8 = b.input("i8", .int8, [4, 6], quantization: ShapeTest.q(1, 0))
        data.append(ShapeTest.random(.int8, 24, &g))
        b.op(.argMax, inputs: [i8, axis(0)], outputs: [b.tensor("i8_axis0", .int32, [6])], options: .argMax(outputType: .int32))
        b.op(.argMax, inputs: [i8, axis(-1)], outputs: [b.tensor("i8_last", .int64, [4])], options: .argMax(outputType: .int64))
        let i32 = b.input("i32", .int32, [3, 4])
        data.append(Bytes.of((0..<12).map { _ in Int32.random(in: -2...2, using: &g) }))
        b.op(.argMax, inputs: [i32, axis(1)], outputs: [b.tensor("i32_axis1", .int32, [3])], options: .argMax(outputType: .int32))
        let bools = b.input("bools", .bool, [3, 5])
        data.append([0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1])
        b.op(.argMax, inputs: [bools, axis(1)], outputs: [b.tensor("bool_axis1", .int32, [3])], options: .argMax(outputType: .int32))
        let one = b.input("one", .float32, [4, 1])
        data.append(ShapeTest.random(.float32, 4, &g))
        b.op(.argMax, inputs: [one, axis(1)], outputs: [b.tensor("size_one_axis", .int64, [4])], options: .argMax(outputType: .int64))
        try ShapeTest.assertMatchesLiteRT(b, data)
    }

    // MARK: - Real models

    /// split_concat.tflite holds only CONCATENATION and SPLIT: the whole model must reproduce its LiteRT golden.
    func testSplitConcatModelMatchesGolden() throws {
        let path = try TestData.model("split_concat.tflite")
        let golden = try TestData.require().appendingPathComponent("golden/split_concat/random")
        let interpreter = try Interpreter(modelPath: path, options: .init(kernels: .reference))
        try interpreter.allocateTensors()
        for i in 0..<interpreter.inputTensorCount {
            try interpreter.copy(try Data(contentsOf: golden.appendingPathComponent("input_\(i).bin")), toInputAt: i)
        }
        try interpreter.invoke()
        XCTAssertEqual(interpreter.outputTensorCount, 5)
        for i in 0..<interpreter.outputTensorCount {
            let expected = try Data(contentsOf: golden.appendingPathComponent("output_\(i).ref.bin"))
            XCTAssertEqual(try interpreter.output(at: i).data, expected, "output \(i)")
        }
    }

    /// The deeplab operators in this group, replicated with their exact tensors, options and constants
    /// (image-pooling RESIZE_BILINEAR 1x1 to 33x33, the uint8 CONCATENATION, and the tail: two RESIZE_BILINEAR
    /// then ARG_MAX over 21 classes at 513x513), run on random inputs in Magpie and LiteRT.
    func testDeeplabOperatorsMatchLiteRT() throws {
        let model = try Model(contentsOfFile: try TestData.model("deeplabv3_mnv2_dm05_pascal_quant.tflite"))
        let ops = model.subgraphs[0].operators
        func indices(of op: BuiltinOperator) -> [Int] {
            ops.indices.filter { model.operatorCodes[ops[$0].opcodeIndex].builtin == op }
        }
        // All three resizes use align_corners (the uint8 float-arithmetic reference path).
        for i in indices(of: .resizeBilinear) {
            XCTAssertEqual(ops[i].options, .resize(alignCorners: true, halfPixelCenters: false))
        }
        let resizes = indices(of: .resizeBilinear), concats = indices(of: .concatenation), argMax = indices(of: .argMax)
        XCTAssertEqual(resizes.count, 3)
        XCTAssertEqual(concats.count, 1)
        XCTAssertEqual(argMax.count, 1)
        var g = SeededGenerator(seed: 41)
        for group in [[resizes[0]], concats, [resizes[1], resizes[2], argMax[0]]] {
            let b = ShapeTest.replicate(model, ops: group)
            let data = b.inputs.map { ShapeTest.random(b.tensors[$0].type, b.tensors[$0].shape.reduce(1, *), &g) }
            try ShapeTest.assertMatchesLiteRT(b, data, label: "deeplab ops \(group)")
        }
    }
}
