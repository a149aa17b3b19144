import XCTest
import MagpieEngine
import MagpieModel
import MagpieTestSupport

extension DifferentialModel {
    /// Adds a MEAN over a fresh random input.
    mutating func addMean(_ label: String, _ type: TensorType, _ shape: [Int], axes: [Int32], keepDims: Bool,
                          inputQ: (Float, Int)? = nil, outputQ: (Float, Int)? = nil, range: ClosedRange<Int>? = nil) {
        let rank = shape.count
        let resolved = Set(axes.map { $0 < 0 ? Int($0) + rank : Int($0) })
        var outputShape: [Int] = []
        for (d, size) in shape.enumerated() {
            if resolved.contains(d) { if keepDims { outputShape.append(1) } } else { outputShape.append(size) }
        }
        let x = input("\(label).x", type, shape, inputQ.map { quant($0.0, $0.1) }, range: range, floatRange: -4...4)
        let axis = builder.constant("\(label).axis", .int32, [axes.count], bytes: Bytes.of(axes))
        let y = output(label, type, outputShape, outputQ.map { quant($0.0, $0.1) })
        builder.op(.mean, inputs: [x, axis], outputs: [y], options: .reducer(keepDims: keepDims), version: 2)
    }
}

final class MeanOpsTests: XCTestCase {
    func testMeanMatchesLiteRT() throws {
        var m = DifferentialModel(seed: 31)
        m.addMean("float axes 1,2 keep", .float32, [2, 3, 4, 5], axes: [1, 2], keepDims: true)
        m.addMean("float axes 2,1 keep", .float32, [1, 7, 7, 64], axes: [2, 1], keepDims: true)
        m.addMean("float last axis", .float32, [2, 3, 4, 5], axes: [-1], keepDims: false)
        m.addMean("float axes 0,2", .float32, [2, 3, 4], axes: [0, 2], keepDims: false)
        m.addMean("float all with repeat", .float32, [3, 4], axes: [0, 1, -1], keepDims: false)
        m.addMean("float all keep", .float32, [3, 4, 2], axes: [2, 0, 1], keepDims: true)
        m.addMean("int32 axis 1", .int32, [3, 5, 2], axes: [1], keepDims: false)
        m.addMean("int32 axes 0,2 keep", .int32, [4, 3, 7], axes: [0, 2], keepDims: true, range: -100_000...100_000)
        m.addMean("uint8 axes 1,2 keep rescale", .uint8, [2, 5, 3, 17], axes: [1, 2], keepDims: true,
                  inputQ: (0.05, 130), outputQ: (0.02, 100))
        m.addMean("uint8 axes 1,2 same quantization", .uint8, [1, 7, 7, 64], axes: [1, 2], keepDims: false,
                  inputQ: (0.023528477177023888, 0), outputQ: (0.023528477177023888, 0))
        m.addMean("uint8 last axis zp 255", .uint8, [4, 6, 9], axes: [-1], keepDims: false,
                  inputQ: (0.01, 255), outputQ: (0.02, 255), range: 150...255)
        m.addMean("uint8 axes 0,3", .uint8, [3, 2, 2, 5], axes: [0, 3], keepDims: false,
                  inputQ: (0.1, 0), outputQ: (0.07, 13))
        // tf2_mobilenet_v2_1.0_224_ptq's MEAN: [1, 7, 7, 1280] over [1, 2], (0.02353, -128) → (0.01908, -128).
        m.addMean("int8 mobilenet keep", .int8, [1, 7, 7, 1280], axes: [1, 2], keepDims: true,
                  inputQ: (0.0235294122248888, -128), outputQ: (0.019077831879258156, -128))
        m.addMean("int8 mobilenet no keep", .int8, [1, 7, 7, 1280], axes: [1, 2], keepDims: false,
                  inputQ: (0.0235294122248888, -128), outputQ: (0.019077831879258156, -128))
        m.addMean("int8 same quantization", .int8, [2, 5, 3, 17], axes: [2, 1], keepDims: true,
                  inputQ: (0.1, -3), outputQ: (0.1, -3))
        m.addMean("int8 last axis zp 127", .int8, [3, 4, 11], axes: [-1], keepDims: true,
                  inputQ: (0.05, 127), outputQ: (0.03, 127))
        m.addMean("int8 axis 0 upscale", .int8, [6, 5], axes: [0], keepDims: false,
                  inputQ: (0.01, 0), outputQ: (0.003, 0))
        m.addMean("int8 4096 elements, tiny ratio", .int8, [1, 64, 64, 1], axes: [1, 2], keepDims: true,
                  inputQ: (1e-7, 0), outputQ: (1, 0))
        m.addMean("int8 4096 elements", .int8, [1, 64, 64, 2], axes: [1, 2], keepDims: false,
                  inputQ: (0.5, 10), outputQ: (0.05, 0))
        try m.assertMatchesLiteRT()
    }

    /// The golden model's own MEAN, with inputs skewed like post-relu6 activations (mostly near the zero point).
    func testMobileNetMeanWithSkewedInputsMatchesLiteRT() throws {
        var m = DifferentialModel(seed: 32)
        m.addMean("int8 mobilenet keep, low values", .int8, [1, 7, 7, 1280], axes: [1, 2], keepDims: true,
                  inputQ: (0.0235294122248888, -128), outputQ: (0.019077831879258156, -128), range: -128...(-90))
        m.addMean("int8 mobilenet no keep, mid values", .int8, [1, 7, 7, 1280], axes: [1, 2], keepDims: false,
                  inputQ: (0.0235294122248888, -128), outputQ: (0.019077831879258156, -128), range: -128...20)
        try m.assertMatchesLiteRT()
    }

    private func mean(_ type: TensorType, _ shape: [Int], axes: [Int32], keepDims: Bool = false, _ values: [UInt8],
                      inputQ: QuantizationParameters? = nil, outputQ: QuantizationParameters? = nil) throws -> [UInt8] {
        var b = OpModelBuilder()
        let x = b.input("x", type, shape, quantization: inputQ)
        let axis = b.constant("axis", .int32, [axes.count], bytes: Bytes.of(axes))
        let y = b.tensor("y", type, [1], quantization: outputQ ?? inputQ)
        b.op(.mean, inputs: [x, axis], outputs: [y], options: .reducer(keepDims: keepDims))
        return try b.run([values])[0]
    }

    /// int8, scale 1, zero point 0, n = 4: QuantizeMultiplier(1) = (2^30, 1); k = floor(log2 4) = 2 gives
    /// multiplier (2^30 << 2) / 4 = 2^30 and shift -1. Sum 11: high multiply round(11/2) = 6 (5.5 away from zero),
    /// halving 6 → 3. Sum 10 (2.5): 5, then 5/2 → 3. Sum -10: -5 (−5.5 truncated after the nudge), then −5/2 → −3.
    func testQuantizedMeanHandComputed() throws {
        let q = quant(1, 0)
        for (values, expected) in [([1, 2, 3, 5], 3), ([1, 2, 3, 4], 3), ([-1, -2, -3, -4], -3)] as [([Int8], Int8)] {
            let out = try mean(.int8, [1, 2, 2, 1], axes: [1, 2], keepDims: true, values.map { UInt8(bitPattern: $0) },
                               inputQ: q, outputQ: q)
            XCTAssertEqual(out.map { Int8(bitPattern: $0) }, [expected], "\(values)")
        }
        // Scale 0.5 → 1: multiplier (2^30, 0), n = 4 gives (2^30, -2); sum 12 (real mean 1.5): high multiply 6,
        // then 6/4 = 1.5 → 2.
        let half = try mean(.int8, [1, 2, 2, 1], axes: [1, 2], [3, 3, 3, 3], inputQ: quant(0.5, 0), outputQ: quant(1, 0))
        XCTAssertEqual(half, [2])
        // uint8 zero points 128 → 100, scale 1 → 2: n = 2, (2^30, 0) becomes (2^30, -1); 130 + 134 - 2·128 = 8,
        // high multiply 4, halved 2, plus 100 = 102 (real mean 4 at scale 2).
        let shifted = try mean(.uint8, [2], axes: [0], [130, 134], inputQ: quant(1, 128), outputQ: quant(2, 100))
        XCTAssertEqual(shifted, [102])
    }

    /// float averages, int32/int64 truncating division (-3/2 = -1, 22/3 = 7), negative axes.
    func testMeanHandComputed() throws {
        XCTAssertEqual(Bytes.floats(try mean(.float32, [2, 2], axes: [-1], Bytes.of([Float(1), 2, 3, 5]))), [1.5, 4])
        XCTAssertEqual(Bytes.array(try mean(.int32, [2], axes: [0], Bytes.of([Int32(-1), -2])), as: Int32.self), [-1])
        XCTAssertEqual(Bytes.array(try mean(.int64, [3], axes: [0], Bytes.of([Int64(7), 7, 8])), as: Int64.self), [7])
    }

    func testMeanOutputShapes() throws {
        for (axes, keep, expected) in [([Int32(1), 2], true, [2, 1, 1, 5]), ([1, 2], false, [2, 5]), ([-1, 3], false, [2, 3, 4]),
                                       ([0, 1, 2, 3], false, []), ([0, -4], true, [1, 3, 4, 5])] {
            var b = OpModelBuilder()
            let x = b.input("x", .float32, [2, 3, 4, 5])
            let axis = b.constant("axis", .int32, [axes.count], bytes: Bytes.of(axes))
            let y = b.tensor("y", .float32, [1])
            b.op(.mean, inputs: [x, axis], outputs: [y], options: .reducer(keepDims: keep))
            let interpreter = try Interpreter(model: try Model(data: b.build()), options: .init(kernels: .reference))
            try interpreter.allocateTensors()
            XCTAssertEqual(try interpreter.outputInfo(at: 0).shape, expected, "\(axes) keep \(keep)")
        }
    }

    func testMeanRefusesInvalidConfigurations() {
        func mean(_ type: TensorType = .float32, axes: [Int32] = [1], axisType: TensorType = .int32,
                  runtimeAxis: Bool = false, q: QuantizationParameters? = nil) -> OpModelBuilder {
            var b = OpModelBuilder()
            let x = b.input("x", type, [2, 3], quantization: q)
            let axis = runtimeAxis ? b.input("axis", .int32, [1])
                : b.constant("axis", axisType, [axes.count], bytes: axisType == .int32 ? Bytes.of(axes) : Bytes.of(axes.map(Int64.init)))
            let y = b.tensor("y", type, [1], quantization: q)
            b.op(.mean, inputs: [x, axis], outputs: [y], options: .reducer(keepDims: false))
            return b
        }
        assertRefused(mean(axes: [2]), op: "MEAN", "out of range")
        assertRefused(mean(axes: [-3]), op: "MEAN", "out of range")
        assertRefused(mean(axisType: .int64), op: "MEAN", "int32")
        assertRefused(mean(runtimeAxis: true), op: "MEAN", "run time")
        assertRefused(mean(.int16, q: quant(0.1, 0)), op: "MEAN", "int16")
        assertRefused(mean(.int8), op: "MEAN", "quantization")
    }

    /// An axis outside the input's rank is refused by LiteRT as well.
    func testRefusalsAgreeWithLiteRT() throws {
        var b = OpModelBuilder()
        let x = b.input("x", .float32, [2, 3])
        let axis = b.constant("axis", .int32, [1], bytes: Bytes.of([Int32(2)]))
        let y = b.tensor("y", .float32, [2])
        b.op(.mean, inputs: [x, axis], outputs: [y], options: .reducer(keepDims: false))
        try assertBothRefuse("axis 2 of rank 2", b, inputs: [[UInt8](repeating: 0, count: 24)])
    }
}
