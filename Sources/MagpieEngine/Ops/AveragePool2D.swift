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

/// `reference_ops::AveragePool` for float32. Each channel's sum runs over the window in the reference's order
/// (rows, then columns); the channel loop is innermost so that it vectorizes over the NHWC pixel.
final class ReferenceFloatAveragePool2D: Kernel {
    let s: PoolingSetup
    /// One window's running sums, one per channel.
    private let sums: UnsafeMutablePointer<Float>
    init(_ setup: PoolingSetup) {
        s = setup
        sums = .allocate(capacity: max(setup.geometry.outputDepth, 1))
    }
    deinit { sums.deallocate() }

    func invoke(_ t: TensorBuffers) throws {
        let input = UnsafePointer(t.pointer(s.input, as: Float.self))
        let output = t.pointer(s.output, as: Float.self)
        let g = s.geometry
        let depth = g.outputDepth, sums = self.sums
        var out = output
        for b in 0..<g.batches {
            for oy in 0..<g.outputHeight {
                for ox in 0..<g.outputWidth {
                    let w = s.window(oy, ox)
                    let count = Float((w.yEnd - w.yStart) * (w.xEnd - w.xStart))
                    // TFLite's reference fails the invoke when a window holds no input at all.
                    if count == 0 { throw KernelError("a pooling window lies entirely in the padding") }
                    s.sumWindow(input, batch: b, w, into: sums, zero: 0) { $0 + $1 }
                    for c in 0..<depth { out[c] = ConvolutionSupport.clamp(sums[c] / count, s.floatMin, s.floatMax) }
                    out += depth
                }
            }
        }
    }
}

/// `reference_ops::AveragePool` (uint8, rounds half up) and `reference_integer_ops::AveragePool` (int8, rounds half
/// away from zero), with C++ truncating division. The int32 sums wrap as the reference's; the channel loop is
/// innermost so that it vectorizes over the NHWC pixel.
final class ReferenceQuantizedAveragePool2D<T: FixedWidthInteger>: Kernel {
    let s: PoolingSetup
    /// One window's running sums, one per channel.
    private let sums: UnsafeMutablePointer<Int32>
    init(_ setup: PoolingSetup) {
        s = setup
        sums = .allocate(capacity: max(setup.geometry.outputDepth, 1))
    }
    deinit { sums.deallocate() }

    @_specialize(where T == UInt8)
    @_specialize(where T == Int8)
    func invoke(_ t: TensorBuffers) throws {
        let input = UnsafePointer(t.pointer(s.input, as: T.self))
        let output = t.pointer(s.output, as: T.self)
        let g = s.geometry
        let signed = T.isSigned
        let depth = g.outputDepth, sums = self.sums
        var out = output
        for b in 0..<g.batches {
            for oy in 0..<g.outputHeight {
                for ox in 0..<g.outputWidth {
                    let w = s.window(oy, ox)
                    let count = Int32((w.yEnd - w.yStart) * (w.xEnd - w.xStart))
                    if count == 0 { throw KernelError("a pooling window lies entirely in the padding") }
                    s.sumWindow(input, batch: b, w, into: sums, zero: 0) { $0 &+ Int32(truncatingIfNeeded: $1) }
                    for c in 0..<depth {
                        var acc = sums[c]
                        if signed && acc <= 0 {
                            acc = (acc &- count / 2) / count
                        } else {
                            acc = (acc &+ count / 2) / count
                        }
                        acc = max(acc, s.quantizedMin)
                        acc = min(acc, s.quantizedMax)
                        out[c] = T(truncatingIfNeeded: acc)
                    }
                    out += depth
                }
            }
        }
    }
}

extension PoolingSetup {
    /// Sets `sums[c]` to the sum over window `w` (rows, then columns: the reference's order) of channel c of batch
    /// `batch`'s pixels, for every channel at once: the channel loop is innermost and vectorizes over the NHWC pixel.
    @inline(__always)
    func sumWindow<Element, Sum>(_ input: UnsafePointer<Element>, batch b: Int,
                                 _ w: (yStart: Int, yEnd: Int, xStart: Int, xEnd: Int),
                                 into sums: UnsafeMutablePointer<Sum>, zero: Sum, add: (Sum, Element) -> Sum) {
        let g = geometry, depth = g.outputDepth
        sums.update(repeating: zero, count: depth)
        for y in w.yStart..<w.yEnd {
            for x in w.xStart..<w.xEnd {
                let pixel = input + ((b * g.inputHeight + y) * g.inputWidth + x) * g.inputDepth
                for c in 0..<depth { sums[c] = add(sums[c], pixel[c]) }
            }
        }
    }
}
