import ArgumentParser
import Foundation
import MagpieModel
import MagpieEngine

@main
struct Magpie: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "magpie",
        abstract: "Run, inspect and benchmark TensorFlow Lite models on the CPU.")
    @Argument var path: String
    @Argument var out: String
    func run() throws {
        let m = try Model(contentsOfFile: path)
        let bytes = ModelWriter.serialize(ModelDefinition(m))
        try Data(bytes).write(to: URL(fileURLWithPath: out))
    }
}
