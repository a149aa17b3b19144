import ArgumentParser
import MagpieModel
import MagpieEngine

@main
struct Magpie: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "magpie",
        abstract: "Run, inspect and benchmark TensorFlow Lite models on the CPU.")
    @Argument var path: String
    func run() throws {
        let m = try Model(contentsOfFile: path)
        print(m.subgraphs[0].tensors.count, m.operatorCodes.map(\.displayName))
        do { _ = try Interpreter(model: m) } catch { print(error) }
    }
}
