import Foundation
import MagpieEngine
import MagpieModel

/// Feeds one input to the model reader and the interpreter. Any outcome but a crash is a pass: the reader and
/// the engine must turn every malformed input into a typed error.
func fuzzOneInput(_ bytes: UnsafeRawBufferPointer) {
    guard let model = try? Model(bytes: ModelBytes(copying: bytes)) else { return }
    guard let interpreter = try? Interpreter(model: model, options: .init(threadCount: 1, kernels: .reference,
                                                                          memoryLimit: 64 << 20)) else { return }
    guard (try? interpreter.allocateTensors()) != nil else { return }
    _ = try? interpreter.invoke()
    for i in 0..<interpreter.outputTensorCount { _ = try? interpreter.output(at: i) }
}

#if MAGPIE_LIBFUZZER
/// libFuzzer's driver (from clang's fuzzer runtime, linked by `-sanitize=fuzzer`).
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

/// The libFuzzer callback.
@_cdecl("LLVMFuzzerTestOneInput")
public func LLVMFuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    fuzzOneInput(UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : size))
    return 0
}

/// Under libFuzzer (build with `-sanitize=fuzzer,address -DMAGPIE_LIBFUZZER`; see docs/fuzzing.md) the entry point
/// hands control to libFuzzer's driver, which takes the usual libFuzzer flags.
@main
struct FuzzMain {
    static func main() {
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv, LLVMFuzzerTestOneInput))
    }
}
#else
/// Without libFuzzer: replays the files named on the command line (crash reproducers, corpus entries).
@main
struct FuzzReplay {
    static func main() {
        let paths = CommandLine.arguments.dropFirst()
        if paths.isEmpty {
            FileHandle.standardError.write(Data("usage: magpie-fuzz FILE...   (replays inputs through the model reader and interpreter)\n".utf8))
            exit(2)
        }
        for path in paths {
            guard let data = FileManager.default.contents(atPath: path) else {
                FileHandle.standardError.write(Data("cannot read \(path)\n".utf8))
                exit(2)
            }
            data.withUnsafeBytes { fuzzOneInput($0) }
            print("\(path): ok")
        }
    }
}
#endif
