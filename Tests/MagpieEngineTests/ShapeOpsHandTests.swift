import Foundation
import XCTest
import MagpieEngine
import MagpieModel
import MagpieTestSupport

/// Shape-operator cases whose expected values were worked out by hand from TFLite's reference formulas (no LiteRT
/// needed), runtime index errors, and operators Magpie must refuse at `allocateTensors()`.
final class ShapeOpsHandTests: XCTestCase {
    private func i32(_ b: inout OpModelBuilder, _ name: String, _ values: [Int], _ shape: [Int]) -> Int {
        b.constant(name, .int32, shape, bytes: ShapeTest.bytes(values, as: .int32))
    }

    // MARK: - Hand-computed values

    func testConcatenationUInt8RequantizationByHand() throws {
        var b = OpModelBuilder()
        let a = b.input("a", .uint8, [1, 3], quantization: ShapeTest.q(0.5, 0))
        let c = b.input("c", .uint8, [1, 2], quantization: ShapeTest.q(1, 0))
        let hi = b.input("hi", .uint8, [1, 1], quantization: ShapeTest.q(1, 0))
        let lo = b.input("lo", .uint8, [1, 1], quantization: ShapeTest.q(1, 255))
        // Output (scale 1, zp 0): a is rescaled by 0.5 * (1/1) = 0.5, bias 0: 1 -> 0.5 -> 1, 3 -> 1.5 -> 2,
        // 5 -> 2.5 -> 3 (TfLiteRound: half away from zero; half-to-even would give 0, 2, 2). c matches: copied.
        b.op(.concatenation, inputs: [a, c], outputs: [b.tensor("same", .uint8, [1, 5], quantization: ShapeTest.q(1, 0))],
             options: .concatenation(axis: 1, activation: .none))
        // Output (scale 2, zp 10): a: 0.5 * 0.5 = 0.25 -> 0.25, 0.75, 1.25 -> 0, 1, 1 -> +10 = 10, 11, 11;
        // c: 1 * 0.5 = 0.5 -> 7 -> 3.5 -> 4 -> 14, 255 -> 127.5 -> 128 -> 138.
        b.op(.concatenation, inputs: [a, c], outputs: [b.tensor("scaled", .uint8, [1, 5], quantization: ShapeTest.q(2, 10))],
             options: .concatenation(axis: -1, activation: .none))
        // Output (scale 0.5, zp 200): hi 255 -> 510 + 200 -> clamped to 255; lo 0 with zp 255 -> -510 + 200 -> 0.
        b.op(.concatenation, inputs: [hi, lo], outputs: [b.tensor("clamped", .uint8, [1, 2], quantization: ShapeTest.q(0.5, 200))],
             options: .concatenation(axis: 1, activation: .none))
        let out = try b.run([[1, 3, 5], [7, 255], [255], [0]])
        XCTAssertEqual(out, [[1, 2, 3, 7, 255], [10, 11, 11, 14, 138], [255, 0]])
    }

    func testResizeBilinearByHand() throws {
        var b = OpModelBuilder()
        let size = i32(&b, "size", [1, 3], [2])
        let s8 = b.input("s8", .int8, [1, 1, 2, 1], quantization: ShapeTest.q(1, 0))
        let u8 = b.input("u8", .uint8, [1, 1, 2, 1], quantization: ShapeTest.q(1, 0))
        // int8, ResizeBilinearInteger: width_scale_10 = (1024*2 + 3/2) / 3 = 683. x=1: scaled 683, x0=0, x1=1,
        // sum = 1024 * (-100 * (1024-683) + 100 * 683) = 35020800; (35020800 + 2^19) / 2^20 = 33. x=2: scaled 1366,
        // x0 = x1 = 1 -> 100.
        b.op(.resizeBilinear, inputs: [s8, size], outputs: [b.tensor("s8_out", .int8, [1, 1, 3, 1], quantization: ShapeTest.q(1, 0))],
             options: .resize(alignCorners: false, halfPixelCenters: false))
        // uint8, float reference: scale 2/3. x=1: 255 * 0.6666667 = 170.00001, + 0.5, truncated -> 170;
        // x=2: x0 = x1 = 1 -> 255.
        b.op(.resizeBilinear, inputs: [u8, size], outputs: [b.tensor("u8_out", .uint8, [1, 1, 3, 1], quantization: ShapeTest.q(1, 0))],
             options: .resize(alignCorners: false, halfPixelCenters: false))
        // Half-pixel centers: x=0 samples -1/6 (clamped neighbours 0, 0) -> 0; x=1 samples 0.5 -> 127.5 + 0.5 -> 128;
        // x=2 samples 7/6 -> 255.
        b.op(.resizeBilinear, inputs: [u8, size], outputs: [b.tensor("u8_half", .uint8, [1, 1, 3, 1], quantization: ShapeTest.q(1, 0))],
             options: .resize(alignCorners: false, halfPixelCenters: true))
        // Align corners: scale (2-1)/(3-1) = 0.5. x=1 samples 0.5 -> 128.
        b.op(.resizeBilinear, inputs: [u8, size], outputs: [b.tensor("u8_align", .uint8, [1, 1, 3, 1], quantization: ShapeTest.q(1, 0))],
             options: .resize(alignCorners: true, halfPixelCenters: false))
        let out = try b.run([[UInt8(bitPattern: -100), 100], [0, 255]])
        XCTAssertEqual(out[0].map { Int8(bitPattern: $0) }, [-100, 33, 100])
        XCTAssertEqual(out[1], [0, 170, 255])
        XCTAssertEqual(out[2], [0, 128, 255])
        XCTAssertEqual(out[3], [0, 128, 255])
    }

    func testResizeNearestNeighborIndicesByHand() throws {
        var b = OpModelBuilder()
        let x = b.input("x", .float32, [1, 1, 3, 1])
        let size = i32(&b, "size", [1, 5], [2])
        for (align, half) in [(false, false), (true, false), (false, true)] {
            b.op(.resizeNearestNeighbor, inputs: [x, size], outputs: [b.tensor("y\(align)\(half)", .float32, [1, 1, 5, 1])],
                 options: .resize(alignCorners: align, halfPixelCenters: half))
        }
        let out = try b.run([Bytes.of([Float(10), 20, 30])]).map(Bytes.floats)
        // Scale 3/5: floor(0, 0.6, 1.2, 1.8, 2.4) = 0, 0, 1, 1, 2.
        XCTAssertEqual(out[0], [10, 10, 20, 20, 30])
        // Align corners, scale 2/4: round(0, 0.5, 1, 1.5, 2) half away from zero = 0, 1, 1, 2, 2.
        XCTAssertEqual(out[1], [10, 20, 20, 30, 30])
        // Half-pixel centers: floor((x + 0.5) * 0.6) = floor(0.3, 0.9, 1.5, 2.1, 2.7) = 0, 0, 1, 2, 2.
        XCTAssertEqual(out[2], [10, 10, 20, 30, 30])
    }

    func testStridedSliceByHand() throws {
        var b = OpModelBuilder()
        let x = b.input("x", .int32, [2, 3, 4])
        // x[1:2, -1:-4:-1, 3:0:-2]: axis 1 starts at 2 and stops before -4 + 3 = -1 (clamped to -1): 2, 1, 0;
        // axis 2: 3, 1. x[1][j][k] = 12 + 4j + k.
        b.op(.stridedSlice, inputs: [x, i32(&b, "b0", [1, -1, 3], [3]), i32(&b, "e0", [2, -4, 0], [3]), i32(&b, "s0", [1, -1, -2], [3])],
             outputs: [b.tensor("rev", .int32, [1, 3, 2])], options: .stridedSlice(StridedSliceOptions()))
        // x[0, 1, :]: shrink axes 0 and 1, end mask on axis 2.
        var o = StridedSliceOptions()
        o.shrinkAxisMask = 0b011
        o.endMask = 0b100
        b.op(.stridedSlice, inputs: [x, i32(&b, "b1", [0, 1, 0], [3]), i32(&b, "e1", [0, 0, 0], [3]), i32(&b, "s1", [1, 1, 1], [3])],
             outputs: [b.tensor("row", .int32, [4])], options: .stridedSlice(o))
        let interpreter = try Interpreter(model: try Model(data: b.build()), options: .init(kernels: .reference))
        try interpreter.allocateTensors()
        try interpreter.copy(Data(Bytes.of((0..<24).map { Int32($0) })), toInputAt: 0)
        try interpreter.invoke()
        XCTAssertEqual(try interpreter.output(at: 0).shape, [1, 3, 2])
        XCTAssertEqual(Bytes.array(Array(try interpreter.output(at: 0).data), as: Int32.self), [23, 21, 19, 17, 15, 13])
        XCTAssertEqual(try interpreter.output(at: 1).shape, [4])
        XCTAssertEqual(Bytes.array(Array(try interpreter.output(at: 1).data), as: Int32.self), [4, 5, 6, 7])
    }

    func testArgMaxTiesPickTheFirstIndex() throws {
        var b = OpModelBuilder()
        let u = b.input("u", .uint8, [2, 4], quantization: ShapeTest.q(1, 0))
        let s = b.input("s", .int8, [3, 2], quantization: ShapeTest.q(1, 0))
        let t = b.input("t", .bool, [2, 3])
        let last = i32(&b, "last", [-1], [1])
        let first = b.constant("first", .int64, [1], bytes: ShapeTest.bytes([0], as: .int64))
        b.op(.argMax, inputs: [u, last], outputs: [b.tensor("u_out", .int32, [2])], options: .argMax(outputType: .int32))
        b.op(.argMax, inputs: [s, first], outputs: [b.tensor("s_out", .int64, [2])], options: .argMax(outputType: .int64))
        b.op(.argMax, inputs: [t, last], outputs: [b.tensor("t_out", .int32, [2])], options: .argMax(outputType: .int32))
        let out = try b.run([[3, 7, 7, 1, 9, 9, 9, 9],
                             [-5, -2, -5, -2, -7, -2].map { UInt8(bitPattern: $0) },
                             [0, 1, 1, 0, 0, 0]])
        XCTAssertEqual(Bytes.array(out[0], as: Int32.self), [1, 0])   // rows [3 7 7 1], [9 9 9 9]
        XCTAssertEqual(Bytes.array(out[1], as: Int64.self), [0, 0])   // columns [-5 -5 -7], [-2 -2 -2]
        XCTAssertEqual(Bytes.array(out[2], as: Int32.self), [1, 0])   // rows [F T T], [F F F]
    }

    func testPadPadsWithTheZeroPointOrTheValue() throws {
        var b = OpModelBuilder()
        let u = b.input("u", .uint8, [1, 2], quantization: ShapeTest.q(0.1, 200))
        let f = b.input("f", .float32, [1, 2])
        let p = i32(&b, "p", [0, 0, 1, 2], [2, 2])
        b.op(.pad, inputs: [u, p], outputs: [b.tensor("u_pad", .uint8, [1, 5], quantization: ShapeTest.q(0.1, 200))])
        let value = b.constant("value", .float32, [], bytes: Bytes.of([Float(-1.5)]))
        b.op(.padV2, inputs: [f, p, value], outputs: [b.tensor("f_pad", .float32, [1, 5])])
        b.op(.pad, inputs: [f, p], outputs: [b.tensor("f_zero", .float32, [1, 5])])
        let out = try b.run([[1, 2], Bytes.of([Float(3), 4])])
        XCTAssertEqual(out[0], [200, 1, 2, 200, 200])
        XCTAssertEqual(Bytes.floats(out[1]), [-1.5, 3, 4, -1.5, -1.5])
        XCTAssertEqual(Bytes.floats(out[2]), [0, 3, 4, 0, 0])
    }

    func testGatherSplitPackUnpackTransposeByHand() throws {
        var b = OpModelBuilder()
        let x = b.input("x", .int32, [3, 2])  // [[1, 2], [3, 4], [5, 6]]
        b.op(.gather, inputs: [x, i32(&b, "idx", [2, 0, 2], [3])], outputs: [b.tensor("gather", .int32, [3, 2])],
             options: .gather(axis: 0, batchDims: 0))
        b.op(.gatherND, inputs: [x, i32(&b, "nd", [2, 1, 0, 0], [2, 2])], outputs: [b.tensor("gather_nd", .int32, [2])])
        b.op(.split, inputs: [i32(&b, "axis", [1], []), x], outputs: [b.tensor("left", .int32, [3, 1]), b.tensor("right", .int32, [3, 1])],
             options: .split(numSplits: 2))
        b.op(.pack, inputs: [x, x], outputs: [b.tensor("pack", .int32, [3, 2, 2])], options: .pack(valuesCount: 2, axis: -1))
        b.op(.unpack, inputs: [x], outputs: [b.tensor("col0", .int32, [3]), b.tensor("col1", .int32, [3])], options: .unpack(num: 2, axis: 1))
        b.op(.transpose, inputs: [x, i32(&b, "perm", [1, 0], [2])], outputs: [b.tensor("t", .int32, [2, 3])])
        let out = try b.run([Bytes.of([Int32(1), 2, 3, 4, 5, 6])]).map { Bytes.array($0, as: Int32.self) }
        XCTAssertEqual(out[0], [5, 6, 1, 2, 5, 6])
        XCTAssertEqual(out[1], [6, 1])
        XCTAssertEqual(out[2], [1, 3, 5])
        XCTAssertEqual(out[3], [2, 4, 6])
        XCTAssertEqual(out[4], [1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6])
        XCTAssertEqual(out[5], [1, 3, 5])
        XCTAssertEqual(out[6], [2, 4, 6])
        XCTAssertEqual(out[7], [1, 3, 5, 2, 4, 6])
    }

    // MARK: - Runtime index errors

    private func assertRuntimeError(_ b: OpModelBuilder, _ inputs: [[UInt8]], _ op: String, _ fragment: String,
                                    file: StaticString = #filePath, line: UInt = #line) throws {
        let interpreter = try Interpreter(model: try Model(data: b.build()), options: .init(kernels: .reference))
        try interpreter.allocateTensors()
        for (i, d) in inputs.enumerated() { try interpreter.copy(Data(d), toInputAt: i) }
        XCTAssertThrowsError(try interpreter.invoke(), file: file, line: line) { error in
            guard case let EngineError.runtime(_, name, reason) = error else { return XCTFail("\(error)", file: file, line: line) }
            XCTAssertEqual(name, op, file: file, line: line)
            XCTAssertTrue(reason.contains(fragment), reason, file: file, line: line)
        }
    }

    func testGatherIndexOutOfRangeFailsAtRunTime() throws {
        for bad in [Int32(3), -1] {
            var b = OpModelBuilder()
            let x = b.input("x", .float32, [3, 2])
            let idx = b.input("idx", .int32, [2])
            b.op(.gather, inputs: [x, idx], outputs: [b.tensor("y", .float32, [2, 2])], options: .gather(axis: 0, batchDims: 0))
            try assertRuntimeError(b, [[UInt8](repeating: 0, count: 24), Bytes.of([Int32(1), bad])],
                                   "GATHER", "out of range")
            if LiteRTReference.unavailableReason == nil {
                let outcome = try LiteRTReference.run(model: b.build(), inputs: [[UInt8](repeating: 0, count: 24), Bytes.of([Int32(1), bad])], outputCount: 1)
                if case .outputs = outcome { XCTFail("LiteRT accepted gather index \(bad)") }
            }
        }
        var b = OpModelBuilder()
        let x = b.input("x", .uint8, [2, 3], quantization: ShapeTest.q(1, 0))
        let idx = b.input("idx", .int64, [1, 2])
        b.op(.gatherND, inputs: [x, idx], outputs: [b.tensor("y", .uint8, [1], quantization: ShapeTest.q(1, 0))])
        // [0, 3] is past dimension 1 (size 3) although its flat offset 3 lies inside the tensor.
        try assertRuntimeError(b, [[UInt8](repeating: 0, count: 6), Bytes.of([Int64(0), 3])], "GATHER_ND", "out of range")
        try assertRuntimeError(b, [[UInt8](repeating: 0, count: 6), Bytes.of([Int64(-1), 0])], "GATHER_ND", "out of range")
    }

    // MARK: - Refused at prepare

    func testInvalidShapeOperatorsAreRefused() throws {
        func model(_ build: (inout OpModelBuilder) -> Void) -> OpModelBuilder {
            var b = OpModelBuilder()
            build(&b)
            return b
        }
        // SQUEEZE a dimension that is not 1, or out of range.
        ShapeTest.assertRefused(model { b in
            let x = b.input("x", .float32, [1, 3])
            b.op(.squeeze, inputs: [x], outputs: [b.tensor("y", .float32, [1])], options: .squeeze(dims: [1]))
        }, "SQUEEZE", "size 3")
        ShapeTest.assertRefused(model { b in
            let x = b.input("x", .float32, [1, 3])
            b.op(.squeeze, inputs: [x], outputs: [b.tensor("y", .float32, [3])], options: .squeeze(dims: [-3]))
        }, "SQUEEZE", "out of range")
        // CONCATENATION: mismatched shapes, types, out-of-range axis.
        ShapeTest.assertRefused(model { b in
            let x = b.input("x", .float32, [2, 3]), y = b.input("y", .float32, [3, 3])
            b.op(.concatenation, inputs: [x, y], outputs: [b.tensor("z", .float32, [2, 6])], options: .concatenation(axis: 1, activation: .none))
        }, "CONCATENATION", "does not match")
        ShapeTest.assertRefused(model { b in
            let x = b.input("x", .float32, [2, 3]), y = b.input("y", .int32, [2, 3])
            b.op(.concatenation, inputs: [x, y], outputs: [b.tensor("z", .float32, [2, 6])], options: .concatenation(axis: 1, activation: .none))
        }, "CONCATENATION", "type")
        ShapeTest.assertRefused(model { b in
            let x = b.input("x", .float32, [2, 3])
            b.op(.concatenation, inputs: [x, x], outputs: [b.tensor("z", .float32, [2, 6])], options: .concatenation(axis: 2, activation: .none))
        }, "CONCATENATION", "axis")
        // SPLIT: uneven, axis computed at run time, wrong output count.
        ShapeTest.assertRefused(model { b in
            let axis = b.constant("axis", .int32, [], bytes: Bytes.of([Int32(1)]))
            let x = b.input("x", .float32, [2, 5])
            b.op(.split, inputs: [axis, x], outputs: [b.tensor("a", .float32, [2, 2]), b.tensor("b", .float32, [2, 2])], options: .split(numSplits: 2))
        }, "SPLIT", "evenly")
        ShapeTest.assertRefused(model { b in
            let axis = b.input("axis", .int32, [])
            let x = b.input("x", .float32, [2, 4])
            b.op(.split, inputs: [axis, x], outputs: [b.tensor("a", .float32, [2, 2]), b.tensor("b", .float32, [2, 2])], options: .split(numSplits: 2))
        }, "SPLIT", "computed at run time is not supported")
        ShapeTest.assertRefused(model { b in
            let axis = b.constant("axis", .int32, [], bytes: Bytes.of([Int32(1)]))
            let x = b.input("x", .float32, [2, 4])
            b.op(.split, inputs: [axis, x], outputs: [b.tensor("a", .float32, [2, 2])], options: .split(numSplits: 2))
        }, "SPLIT", "num_splits")
        // PACK: different shapes.
        ShapeTest.assertRefused(model { b in
            let x = b.input("x", .float32, [2]), y = b.input("y", .float32, [3])
            b.op(.pack, inputs: [x, y], outputs: [b.tensor("z", .float32, [2, 2])], options: .pack(valuesCount: 2, axis: 0))
        }, "PACK", "shape")
        // UNPACK: num differs from the axis size.
        ShapeTest.assertRefused(model { b in
            let x = b.input("x", .float32, [3, 2])
            b.op(.unpack, inputs: [x], outputs: [b.tensor("a", .float32, [3]), b.tensor("b", .float32, [3])], options: .unpack(num: 2, axis: 0))
        }, "UNPACK", "num")
        // PAD: negative padding, paddings computed at run time, wrong paddings shape.
        ShapeTest.assertRefused(model { b in
            let x = b.input("x", .float32, [2])
            let p = b.constant("p", .int32, [1, 2], bytes: Bytes.of([Int32(-1), 1]))
            b.op(.pad, inputs: [x, p], outputs: [b.tensor("y", .float32, [2])])
        }, "PAD", "non-negative")
        ShapeTest.assertRefused(model { b in
            let x = b.input("x", .float32, [2])
            let p = b.input("p", .int32, [1, 2])
            b.op(.pad, inputs: [x, p], outputs: [b.tensor("y", .float32, [4])])
        }, "PAD", "computed at run time is not supported")
        ShapeTest.assertRefused(model { b in
            let x = b.input("x", .float32, [2, 2])
            let p = b.constant("p", .int32, [1, 2], bytes: Bytes.of([Int32(1), 1]))
            b.op(.pad, inputs: [x, p], outputs: [b.tensor("y", .float32, [4, 2])])
        }, "PAD", "shape")
        // TRANSPOSE: repeated entry, perm computed at run time.
        ShapeTest.assertRefused(model { b in
            let x = b.input("x", .float32, [2, 3])
            let p = b.constant("perm", .int32, [2], bytes: Bytes.of([Int32(1), -1]))
            b.op(.transpose, inputs: [x, p], outputs: [b.tensor("y", .float32, [3, 3])])
        }, "TRANSPOSE", "repeats")
        ShapeTest.assertRefused(model { b in
            let x = b.input("x", .float32, [2, 3])
            let p = b.input("perm", .int32, [2])
            b.op(.transpose, inputs: [x, p], outputs: [b.tensor("y", .float32, [3, 2])])
        }, "TRANSPOSE", "computed at run time is not supported")
        // GATHER: batch_dims past the axis, float indices.
        ShapeTest.assertRefused(model { b in
            let x = b.input("x", .float32, [2, 3]), i = b.input("i", .int32, [2, 2])
            b.op(.gather, inputs: [x, i], outputs: [b.tensor("y", .float32, [2, 2])], options: .gather(axis: 0, batchDims: 1))
        }, "GATHER", "batch_dims")
        ShapeTest.assertRefused(model { b in
            let x = b.input("x", .float32, [2, 3]), i = b.input("i", .float32, [2])
            b.op(.gather, inputs: [x, i], outputs: [b.tensor("y", .float32, [2, 3])], options: .gather(axis: 0, batchDims: 0))
        }, "GATHER", "indices type float32")
        // GATHER_ND: index tuples longer than the params rank.
        ShapeTest.assertRefused(model { b in
            let x = b.input("x", .float32, [2, 3]), i = b.input("i", .int32, [1, 3])
            b.op(.gatherND, inputs: [x, i], outputs: [b.tensor("y", .float32, [1])])
        }, "GATHER_ND", "exceed")
        // STRIDED_SLICE: zero stride, begin computed at run time, a shrunk index past the end.
        ShapeTest.assertRefused(model { b in
            let x = b.input("x", .float32, [4])
            b.op(.stridedSlice, inputs: [x, i32(&b, "b", [0], [1]), i32(&b, "e", [4], [1]), i32(&b, "s", [0], [1])],
                 outputs: [b.tensor("y", .float32, [4])], options: .stridedSlice(StridedSliceOptions()))
        }, "STRIDED_SLICE", "non-zero")
        ShapeTest.assertRefused(model { b in
            let x = b.input("x", .float32, [4])
            let begin = b.input("begin", .int32, [1])
            b.op(.stridedSlice, inputs: [x, begin, i32(&b, "e", [4], [1]), i32(&b, "s", [1], [1])],
                 outputs: [b.tensor("y", .float32, [4])], options: .stridedSlice(StridedSliceOptions()))
        }, "STRIDED_SLICE", "computed at run time is not supported")
        ShapeTest.assertRefused(model { b in
            var o = StridedSliceOptions()
            o.shrinkAxisMask = 1
            let x = b.input("x", .float32, [4, 2])
            b.op(.stridedSlice, inputs: [x, i32(&b, "b", [7], [1]), i32(&b, "e", [8], [1]), i32(&b, "s", [1], [1])],
                 outputs: [b.tensor("y", .float32, [2])], options: .stridedSlice(o))
        }, "STRIDED_SLICE", "elements")
        // RESIZE_*: size computed at run time, non-positive size, int32 images, 3-D input.
        ShapeTest.assertRefused(model { b in
            let x = b.input("x", .float32, [1, 2, 2, 1]), s = b.input("size", .int32, [2])
            b.op(.resizeBilinear, inputs: [x, s], outputs: [b.tensor("y", .float32, [1, 4, 4, 1])], options: .resize(alignCorners: false, halfPixelCenters: false))
        }, "RESIZE_BILINEAR", "computed at run time is not supported")
        ShapeTest.assertRefused(model { b in
            let x = b.input("x", .uint8, [1, 2, 2, 1], quantization: ShapeTest.q(1, 0))
            b.op(.resizeNearestNeighbor, inputs: [x, i32(&b, "size", [0, 3], [2])],
                 outputs: [b.tensor("y", .uint8, [1, 0, 3, 1], quantization: ShapeTest.q(1, 0))], options: .resize(alignCorners: false, halfPixelCenters: false))
        }, "RESIZE_NEAREST_NEIGHBOR", "positive")
        ShapeTest.assertRefused(model { b in
            let x = b.input("x", .int32, [1, 2, 2, 1])
            b.op(.resizeBilinear, inputs: [x, i32(&b, "size", [3, 3], [2])], outputs: [b.tensor("y", .int32, [1, 3, 3, 1])],
                 options: .resize(alignCorners: false, halfPixelCenters: false))
        }, "RESIZE_BILINEAR", "input type int32 is not supported")
        ShapeTest.assertRefused(model { b in
            let x = b.input("x", .float32, [2, 2, 1])
            b.op(.resizeNearestNeighbor, inputs: [x, i32(&b, "size", [3, 3], [2])], outputs: [b.tensor("y", .float32, [3, 3, 1])],
                 options: .resize(alignCorners: false, halfPixelCenters: false))
        }, "RESIZE_NEAREST_NEIGHBOR", "4-D")
        // ARG_MAX: output tensor type differs from output_type, axis out of range, axis computed at run time.
        ShapeTest.assertRefused(model { b in
            let x = b.input("x", .float32, [2, 3])
            b.op(.argMax, inputs: [x, i32(&b, "axis", [1], [1])], outputs: [b.tensor("y", .int32, [2])], options: .argMax(outputType: .int64))
        }, "ARG_MAX", "output_type")
        ShapeTest.assertRefused(model { b in
            let x = b.input("x", .float32, [2, 3])
            b.op(.argMax, inputs: [x, i32(&b, "axis", [2], [1])], outputs: [b.tensor("y", .int32, [2])], options: .argMax(outputType: .int32))
        }, "ARG_MAX", "out of range")
        ShapeTest.assertRefused(model { b in
            let x = b.input("x", .float32, [2, 3]), axis = b.input("axis", .int32, [1])
            b.op(.argMax, inputs: [x, axis], outputs: [b.tensor("y", .int32, [2])], options: .argMax(outputType: .int32))
        }, "ARG_MAX", "computed at run time is not supported")
        // Types outside the supported set are named.
        ShapeTest.assertRefused(model { b in
            let x = b.input("x", .int16, [2, 3])
            b.op(.transpose, inputs: [x, i32(&b, "perm", [1, 0], [2])], outputs: [b.tensor("y", .int16, [3, 2])])
        }, "TRANSPOSE", "input type int16 is not supported")
        ShapeTest.assertRefused(model { b in
            let x = b.input("x", .float16, [2, 3])
            b.op(.squeeze, inputs: [x], outputs: [b.tensor("y", .float16, [2, 3])], options: .squeeze(dims: []))
        }, "SQUEEZE", "float16")
    }

    /// Operators LiteRT 2.3.0 itself refuses are refused by Magpie too.
    func testOperatorsLiteRTRefusesAreRefused() throws {
        var g = SeededGenerator(seed: 5)
        func check(_ b: OpModelBuilder, _ op: String, _ fragment: String, file: StaticString = #filePath, line: UInt = #line) throws {
            ShapeTest.assertRefused(b, op, fragment, file: file, line: line)
            let inputs = b.inputs.map { ShapeTest.random(b.tensors[$0].type, b.tensors[$0].shape.reduce(1, *), &g) }
            try ShapeTest.assertLiteRTRefuses(b, inputs, file: file, line: line)
        }
        // int8 CONCATENATION with differing quantization (TFLite does not rescale int8).
        var b = OpModelBuilder()
        var x = b.input("x", .int8, [1, 2], quantization: ShapeTest.q(0.5, 0))
        var y = b.input("y", .int8, [1, 2], quantization: ShapeTest.q(0.25, 0))
        b.op(.concatenation, inputs: [x, y], outputs: [b.tensor("z", .int8, [1, 4], quantization: ShapeTest.q(0.5, 0))],
             options: .concatenation(axis: 1, activation: .none))
        try check(b, "CONCATENATION", "int8")
        // CONCATENATION with a fused activation.
        b = OpModelBuilder()
        x = b.input("x", .float32, [1, 2])
        b.op(.concatenation, inputs: [x, x], outputs: [b.tensor("z", .float32, [1, 4])], options: .concatenation(axis: 1, activation: .relu))
        try check(b, "CONCATENATION", "fused activation")
        // PACK and UNPACK with differing quantization.
        b = OpModelBuilder()
        x = b.input("x", .uint8, [2], quantization: ShapeTest.q(0.5, 1))
        b.op(.pack, inputs: [x, x], outputs: [b.tensor("z", .uint8, [2, 2], quantization: ShapeTest.q(0.5, 2))], options: .pack(valuesCount: 2, axis: 0))
        try check(b, "PACK", "zero point")
        b = OpModelBuilder()
        x = b.input("x", .int8, [2, 3], quantization: ShapeTest.q(0.5, 1))
        b.op(.unpack, inputs: [x], outputs: [b.tensor("a", .int8, [3], quantization: ShapeTest.q(0.5, 1)), b.tensor("b", .int8, [3], quantization: ShapeTest.q(0.7, 1))],
             options: .unpack(num: 2, axis: 0))
        try check(b, "UNPACK", "scale")
        // UNPACK of int64 and PACK of bool (types TFLite's kernels do not list).
        b = OpModelBuilder()
        x = b.input("x", .int64, [2, 3])
        b.op(.unpack, inputs: [x], outputs: [b.tensor("a", .int64, [3]), b.tensor("b", .int64, [3])], options: .unpack(num: 2, axis: 0))
        try check(b, "UNPACK", "int64")
        b = OpModelBuilder()
        x = b.input("x", .bool, [3])
        b.op(.pack, inputs: [x, x], outputs: [b.tensor("z", .bool, [2, 3])], options: .pack(valuesCount: 2, axis: 0))
        try check(b, "PACK", "bool")
        // PADV2 whose quantized value has another zero point than the output.
        b = OpModelBuilder()
        x = b.input("x", .uint8, [2], quantization: ShapeTest.q(0.5, 10))
        let value = b.constant("v", .uint8, [], bytes: [3], quantization: ShapeTest.q(0.5, 11))
        b.op(.padV2, inputs: [x, i32(&b, "p", [1, 1], [1, 2]), value], outputs: [b.tensor("z", .uint8, [4], quantization: ShapeTest.q(0.5, 10))])
        try check(b, "PADV2", "zero point")
        // RESIZE_BILINEAR with both align_corners and half_pixel_centers.
        b = OpModelBuilder()
        x = b.input("x", .float32, [1, 2, 2, 1])
        b.op(.resizeBilinear, inputs: [x, i32(&b, "size", [3, 3], [2])], outputs: [b.tensor("y", .float32, [1, 3, 3, 1])],
             options: .resize(alignCorners: true, halfPixelCenters: true))
        try check(b, "RESIZE_BILINEAR", "half_pixel_centers")
        // PAD above its rank limit (5).
        b = OpModelBuilder()
        x = b.input("x", .float32, [1, 1, 1, 1, 1, 2])
        b.op(.pad, inputs: [x, i32(&b, "p", [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1], [6, 2])], outputs: [b.tensor("y", .float32, [1, 1, 1, 1, 1, 4])])
        try check(b, "PAD", "rank")
        // ARG_MAX over int64 input.
        b = OpModelBuilder()
        y = b.input("x", .int64, [2, 3])
        b.op(.argMax, inputs: [y, i32(&b, "axis", [1], [1])], outputs: [b.tensor("z", .int32, [2])], options: .argMax(outputType: .int32))
        try check(b, "ARG_MAX", "int64")
    }
}
