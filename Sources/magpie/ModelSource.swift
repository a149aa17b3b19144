import Foundation
import MagpieModel
import MagpieZoo

/// Where a command's model comes from: a file, or a model Magpie builds itself (`builtin:...`).
struct ModelSource {
    let model: Model
    /// The name to show in messages.
    let name: String
    /// Something the user must know about this model (the built-in one is not pretrained).
    let note: String?
    /// Labels that come with the model when its file has none.
    let labels: [String]?

    static func load(_ spec: String) throws -> ModelSource {
        if spec.hasPrefix("builtin:") {
            return try builtin(String(spec.dropFirst("builtin:".count)))
        }
        return ModelSource(model: try loadModel(spec), name: spec, note: nil, labels: nil)
    }
}

extension ModelSource {
    /// Names accepted after `builtin:`: the catalogue's names, or `mobilenet_v2[-float32|-uint8|-int8]`.
    static let builtinNames: [String: BuiltinModels.Precision] = {
        var names: [String: BuiltinModels.Precision] = ["mobilenet_v2": .float32]
        for p in BuiltinModels.Precision.allCases { names["mobilenet_v2-\(p.rawValue)"] = p }
        for e in BuiltinModels.catalog { names[e.name] = e.precision }
        return names
    }()

    /// Builds a built-in model (deterministic, not pretrained) and loads it.
    static func builtin(_ name: String) throws -> ModelSource {
        guard let precision = builtinNames[name] else {
            throw CommandFailure("unknown built-in model '\(name)'; known: " + builtinNames.keys.sorted().map { "builtin:\($0)" }.joined(separator: ", "))
        }
        let bytes = try BuiltinModels.mobileNetV2(precision: precision)
        return ModelSource(model: try Model(data: bytes), name: "builtin:mobilenet_v2-\(precision)",
                           note: "built-in MobileNetV2 (\(precision)): \(BuiltinModels.note)",
                           labels: (0..<1001).map { "class \($0)" })
    }

    /// The three built-in MobileNetV2 variants, calibrated once, as (name, .tflite bytes).
    static func builtinVariants() throws -> [(name: String, bytes: [UInt8])] {
        let ranges = try BuiltinModels.mobileNetV2ActivationRanges()
        return try BuiltinModels.Precision.allCases.map { p in
            ("builtin mobilenet_v2 \(p)", try BuiltinModels.mobileNetV2(precision: p, activationRanges: ranges))
        }
    }
}
