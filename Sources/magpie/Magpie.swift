import ArgumentParser

@main
struct Magpie: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "magpie",
        abstract: "Run, inspect and benchmark TensorFlow Lite models on the CPU.",
        discussion: """
            Examples:
              magpie inspect model.tflite
              magpie classify model.tflite parrot.jpg --top 5
              magpie run model.tflite --random-input --output out.bin
            """,
        subcommands: [Inspect.self, Classify.self, Run.self, Bench.self, Report.self, Serve.self, Hub.self])
}
