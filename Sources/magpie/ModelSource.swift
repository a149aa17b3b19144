import Foundation
import MagpieModel

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
