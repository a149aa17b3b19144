import Foundation
import MagpieModel

/// RESIZE_NEAREST_NEIGHBOR: nearest-pixel resampling of NHWC images to the constant int32 size
/// `[new_height, new_width]`, following TFLite's `reference_ops::ResizeNearestNeighbor`: the source index is
/// `floor((out + offset) * scale)` (offset 0.5 with `half_pixel_centers`), or `round((out + offset) * scale)`
/// half away from zero with `align_corners`, in float arithmetic, capped at `in - 1` (and at 0 from below with
/// `half_pixel_centers`); scale is `in/out`, or `(in-1)/(out-1)` with `align_corners` and `out > 1`.
enum ResizeNearestNeighbor {
    static let supportedTypes: [TensorType] = [.float32, .uint8, .int8]

    static let registration = OperatorRegistration(.resizeNearestNeighbor) { context in
        guard case let .resize(alignCorners, halfPixelCenters) = context.op.options else {
            throw KernelError("missing ResizeNearestNeighborOptions")
        }
        let g = try ResizeGeometry.prepare(&context, supportedTypes: supportedTypes)
        let elementSize = try context.input(0).type.byteSize!
        // The source row and column of every output row and column, computed once.
        let rows = context.allocate(Int.self, count: g.outputHeight)
        for y in 0..<g.outputHeight {
            rows[y] = nearest(y, g.inputHeight, g.outputHeight, alignCorners, halfPixelCenters)
        }
        let columns = context.allocate(Int.self, count: g.outputWidth)
        for x in 0..<g.outputWidth {
            columns[x] = nearest(x, g.inputWidth, g.outputWidth, alignCorners, halfPixelCenters)
        }
        let (source, destination) = (context.op.inputs[0], try context.outputIndex(0))
        let pixelBytes = g.depth * elementSize
        let rowBytes = g.inputWidth * pixelBytes, batchBytes = g.inputHeight * rowBytes
        return ClosureKernel { t in
            var out = t[destination]
            for b in 0..<g.batches {
                for y in 0..<g.outputHeight {
                    let row = UnsafeRawPointer(t[source]) + b * batchBytes + rows[y] * rowBytes
                    for x in 0..<g.outputWidth {
                        out.copyMemory(from: row + columns[x] * pixelBytes, byteCount: pixelBytes)
                        out += pixelBytes
                    }
                }
            }
        }
    }

    /// TFLite's `GetNearestNeighbor`.
    static func nearest(_ value: Int, _ inputSize: Int, _ outputSize: Int, _ alignCorners: Bool,
                        _ halfPixelCenters: Bool) -> Int {
        let scale: Float = alignCorners && outputSize > 1
            ? Float(inputSize - 1) / Float(outputSize - 1)
            : Float(inputSize) / Float(outputSize)
        let offset: Float = halfPixelCenters ? 0.5 : 0
        let scaled = (Float(value) + offset) * scale
        let rounded = alignCorners ? scaled.rounded(.toNearestOrAwayFromZero) : scaled.rounded(.down)
        var index = min(Int(ShapeSupport.truncatingToInt32(rounded)), inputSize - 1)
        if halfPixelCenters { index = max(0, index) }
        return index
    }
}
