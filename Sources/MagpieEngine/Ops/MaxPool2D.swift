import MagpieModel

/// MAX_POOL_2D: the largest value of each window (padding ignored), then the fused activation, following TFLite's
/// `pooling.cc` and the reference kernels (`std::max` from the type's lowest value, so float NaNs are skipped).
enum MaxPool2D {
    static let registration = OperatorRegistration(.maxPool2D) { context in
        let setup = try PoolingSetup(&context)
        switch setup.type {
        case .float32: return ReferenceFloatMaxPool2D(setup)
        case .uint8: return ReferenceQuantizedMaxPool2D<UInt8>(setup)
        case .int8: return ReferenceQuantizedMaxPool2D<Int8>(setup)
        default: throw KernelError("input type \(setup.type) is not supported")
        }
    }
}

/// `reference_ops::MaxPool` for float32.
final class ReferenceFloatMaxPool2D: Kernel {
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
                        var largest = -Float.greatestFiniteMagnitude
                        for y in w.yStart..<w.yEnd {
                            for x in w.xStart..<w.xEnd {
                                let v = input[((b * g.inputHeight + y) * g.inputWidth + x) * g.inputDepth + c]
                                if largest < v { largest = v }
                            }
                        }
                        output[o] = ConvolutionSupport.clamp(largest, s.floatMin, s.floatMax)
                        o += 1
                    }
                }
            }
        }
    }
}

/// `reference_ops::MaxPool` (uint8) and `reference_integer_ops::MaxPool` (int8).
final class ReferenceQuantizedMaxPool2D<T: FixedWidthInteger>: Kernel {
    let s: PoolingSetup
    init(_ setup: PoolingSetup) { s = setup }

    @_specialize(where T == UInt8)
    @_specialize(where T == Int8)
    func invoke(_ t: TensorBuffers) throws {
        let input = UnsafePointer(t.pointer(s.input, as: T.self))
        let output = t.pointer(s.output, as: T.self)
        let g = s.geometry
        var o = 0
        for b in 0..<g.batches {
            for oy in 0..<g.outputHeight {
                for ox in 0..<g.outputWidth {
                    let w = s.window(oy, ox)
                    for c in 0..<g.outputDepth {
                        var largest = T.min
                        for y in w.yStart..<w.yEnd {
                            for x in w.xStart..<w.xEnd {
                                largest = max(largest, input[((b * g.inputHeight + y) * g.inputWidth + x) * g.inputDepth + c])
                            }
                        }
                        var v = Int32(truncatingIfNeeded: largest)
                        v = max(v, s.quantizedMin)
                        v = min(v, s.quantizedMax)
                        output[o] = T(truncatingIfNeeded: v)
                        o += 1
                    }
                }
            }
        }
    }
}
