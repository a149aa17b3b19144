import MagpieModel

/// PADV2: PAD with an explicit padding value (input 2, a one-element tensor of the input's type; for uint8 and
/// quantized int8 it must carry the output's scale and zero point), following TFLite's `pad.cc`.
enum PadV2 {
    static let registration = OperatorRegistration(.padV2) { context in
        try Pad.prepare(&context)
    }
}
