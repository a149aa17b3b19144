import MagpieModel

/// AVERAGE_POOL_2D: the mean of each window, padding excluded from the count, following TFLite's `pooling.cc`
/// and the reference kernels: float32 sums then divides by the count; uint8 rounds `(acc + count/2) / count`;
/// int8 rounds half away from zero (`(acc ± count/2) / count` by the sign of `acc`); then the fused activation.
enum AveragePool2D {
    static let registration = OperatorRegistration(.averagePool2D) { context in
        let setup = try PoolingSetup(&context)
        switch setup.type {
        case .float32: return ReferenceFloatAveragePool2D(setup)
        case .uint8: return ReferenceQuantizedAveragePool2D<UInt8>(setup)
        case .int8: return ReferenceQuantizedAveragePool2D<Int8>(setup)
        default: throw KernelError("input type \(setup.type) is not supported")
        }
    }
}

/// `reference_ops::AveragePool` for float32.
final class ReferenceFloatAveragePool2D: Kernel {
    let s: PoolingSetup
    init(_ setup: PoolingSetup) { s = setup }

    func invoke(_ t: TensorBuffers) throws {
        let input = UnsafePointer(t.pointer(s.input, as: Float.self))
        let output = t.pointer(s.output, as: Float.self)
        let g = s.geometry
        var o = 0
        for b in 0..<g.batches {
            for oy in 0..<g.outputHeight {
                for ox in 0..<g.outputWidth {
                    let w = s.window(oy, ox)
                    for c in 0..<g.outputDepth {
                        var total: Float = 0
                        var count: Float = 0
                        for y in w.yStart..<w.yEnd {
                            for x in w.xStart..<w.xEnd {
                                total += input[((b * g.inputHeight + y) * g.inputWidth + x) * g.inputDepth + c]
                                count += 1
                            }
                        }
                        // TFLite's reference fails the invoke when a window holds no input at all.
                        if count == 0 { throw KernelError("a pooling window lies entirely in the padding") }
                        output[o] = ConvolutionSupport.clamp(total / count, s.floatMin, s.floatMax)
                        o += 1
                    }
                }
            }
        }
    }
}

/// `reference_ops::AveragePool` (uint8, rounds half up) and `reference_integer_ops::AveragePool` (int8, rounds half
/// away from zero), with C++ truncating division.
final class ReferenceQuantizedAveragePool2D<T: FixedWidthInteger>: Kernel {
    let s: PoolingSetup
    init(_ setup: PoolingSetup) { s = setup }

    @_specialize(where T == UInt8)
    @_specialize(where T == Int8)
    func invoke(_ t: TensorBuffers) throws {
        let input = UnsafePointer(t.pointer(s.input, as: T.self))
        let output = t.pointer(s.output, as: T.self)
        let g = s.geometry
        let signed = T.isSigned
        var o = 0
        for b in 0..<g.batches {
            for oy in 0..<g.outputHeight {
                for ox in 0..<g.outputWidth {
                    let w = s.window(oy, ox)
                    let count = Int32((w.yEnd - w.yStart) * (w.xEnd - w.xStart))
                    if count == 0 { throw KernelError("a pooling window lies entirely in the padding") }
                    for c in 0..<g.outputDepth {
                        var acc: Int32 = 0
                        for y in w.yStart..<w.yEnd {
                            for x in w.xStart..<w.xEnd {
                                acc = acc &+ Int32(truncatingIfNeeded:
                                    input[((b * g.inputHeight + y) * g.inputWidth + x) * g.inputDepth + c])
                            }
                        }
                        if signed && acc <= 0 {
                            acc = (acc &- count / 2) / count
                        } else {
                            acc = (acc &+ count / 2) / count
                        }
                        acc = max(acc, s.quantizedMin)
                        acc = min(acc, s.quantizedMax)
                        output[o] = T(truncatingIfNeeded: acc)
                        o += 1
                    }
                }
            }
        }
    }
}
