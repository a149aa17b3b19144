import Foundation
import MagpieModel

/// Runs a TFLite model on the CPU.
///
/// The shape follows TensorFlowLiteSwift: create, `allocateTensors()`, `copy(_:toInputAt:)`, `invoke()`,
/// `output(at:)`. Preparation (shape inference, kernel choice, weight packing, arena planning) happens in
/// `allocateTensors()`; `invoke()` only computes.
///
/// Concurrency: `Interpreter` is not `Sendable`; use one per thread. The `Model` it runs is immutable and `Sendable`,
/// so many interpreters can share one loaded model. `Tensor` values are `Sendable` snapshots.
///
/// ```swift
/// let interpreter = try Interpreter(modelPath: "mobilenet_v2.tflite")
/// try interpreter.allocateTensors()
/// try interpreter.copy(imageBytes, toInputAt: 0)
/// try interpreter.invoke()
/// let scores = try interpreter.output(at: 0)
/// ```
public final class Interpreter {
    /// Interpreter settings.
    public struct Options: Sendable {
        /// Threads the kernels may use; nil means one per core. The reference kernels run on one thread.
        public var threadCount: Int?
        /// Which kernel implementations to use.
        public var kernels: KernelSet
        /// How activations share the arena.
        public var memoryPlanner: any MemoryPlanner
        /// The largest activation arena `allocateTensors()` will create; a model that needs more is refused with
        /// `EngineError.invalidArgument` instead of exhausting memory.
        public var memoryLimit: Int
        /// Whether optimized kernels of neighbouring operators may be fused into one (`fusedOperators`); the
        /// results are the same bits either way (with `skipsZeros` too, the same values: a fused projection's row
        /// tiles fall differently, so a zero may change sign).
        public var fusesOperators: Bool
        /// Whether optimized pointwise convolutions that read a ReLU's output skip the steps at which their input
        /// is zero (`zeroSkippingOperators`); the results are the same values either way (a zero may change sign).
        public var skipsZeros: Bool
        /// The arithmetic of the optimized float convolutions: float32 (the default) or the opt-in bfloat16.
        public var floatPrecision: FloatPrecision
        /// The rounding arithmetic of the quantized convolutions, MEAN and ADD; nil: `Requantization.default(for:)`.
        public var requantization: Requantization?

        public init(threadCount: Int? = nil, kernels: KernelSet = .optimized,
                    memoryPlanner: any MemoryPlanner = GreedyMemoryPlanner(), memoryLimit: Int = 1 << 30,
                    fusesOperators: Bool = true, skipsZeros: Bool = true, floatPrecision: FloatPrecision = .float32,
                    requantization: Requantization? = nil) {
            self.floatPrecision = floatPrecision
            self.requantization = requantization
            self.threadCount = threadCount
            self.kernels = kernels
            self.memoryPlanner = memoryPlanner
            self.memoryLimit = memoryLimit
            self.fusesOperators = fusesOperators
            self.skipsZeros = skipsZeros
        }
    }

    public let model: Model
    public let options: Options
    let subgraph: Subgraph
    /// Current shapes and constants of every tensor.
    private(set) var infos: [TensorInfo]
    private var plan: ExecutionPlan?
    /// Operators whose work another operator's kernel does since `allocateTensors()`: index → the operator it was
    /// fused into (optimized kernels only; see docs/performance.md). A fused operator's own kernel does nothing, so
    /// a per-operator profile counts its time under the operator it maps to.
    public private(set) var fusedOperators: [Int: Int] = [:]
    /// Operators whose kernel skips the zeros of its input since `allocateTensors()` (`Options.skipsZeros`).
    public private(set) var zeroSkippingOperators: Set<Int> = []
    /// Threads the optimized kernels share.
    let pool: ThreadPool

    /// Loads the model at `modelPath` and checks that every operator is supported.
    /// - Throws: `EngineError.model` for a bad file, `EngineError.unsupportedOperators` listing every operator
    ///   the engine cannot run.
    public convenience init(modelPath: String, options: Options = Options()) throws {
        let model: Model
        do { model = try Model(contentsOfFile: modelPath) } catch let e as ModelError { throw EngineError.model(e) }
        try self.init(model: model, options: options)
    }

    /// Creates an interpreter over an already loaded model.
    public init(model: Model, options: Options = Options()) throws {
        let problems = OperatorRegistry.unsupportedOperators(in: model)
        guard problems.isEmpty else { throw EngineError.unsupportedOperators(problems) }
        self.model = model
        self.options = options
        self.pool = ThreadPool(threadCount: options.threadCount ?? ProcessInfo.processInfo.activeProcessorCount)
        self.subgraph = model.mainSubgraph
        self.infos = subgraph.tensors.map { t in
            let data = t.buffer > 0 ? model.data(ofBuffer: t.buffer) : UnsafeRawBufferPointer(start: nil, count: 0)
            return TensorInfo(name: t.name, type: t.type, shape: t.shape, quantization: t.quantization,
                              constant: data.count > 0 ? data : nil, isVariable: t.isVariable)
        }
        for (i, t) in subgraph.inputs.enumerated() where infos[t].isConstant {
            throw EngineError.model(.malformed("graph input \(i) ('\(infos[t].name)') is a constant tensor"))
        }
    }

    deinit { pool.shutdown() }

    /// Number of graph inputs.
    public var inputTensorCount: Int { subgraph.inputs.count }
    /// Number of graph outputs.
    public var outputTensorCount: Int { subgraph.outputs.count }
    /// Number of operators in execution order.
    public var operatorCount: Int { subgraph.operators.count }
    /// The builtin name of each operator, in execution order.
    public var operatorNames: [String] { subgraph.operators.map { model.operatorCode(of: $0).displayName } }
    /// Bytes of the activation arena once tensors are allocated.
    public var arenaByteCount: Int { plan?.arenaSize ?? 0 }

    /// Changes the shape of input `index`; takes effect at the next `allocateTensors()`.
    public func resizeInput(at index: Int, to shape: Tensor.Shape) throws {
        let t = try tensorIndex(input: index)
        guard shape.dimensions.allSatisfy({ $0 > 0 }), shape.dimensions.count <= 8 else {
            throw EngineError.invalidArgument("invalid input shape \(shape)")
        }
        guard shape.dimensions.reduce(1, { $0.multipliedReportingOverflow(by: $1).partialValue }) <= Int(Int32.max) else {
            throw EngineError.invalidArgument("input shape \(shape) is too large")
        }
        if infos[t].shape != shape.dimensions {
            infos[t].shape = shape.dimensions
            plan = nil
        }
    }

    /// Infers shapes, prepares every kernel and plans the arena.
    /// - Throws: `EngineError.invalidOperator` naming the first operator whose inputs or options are inconsistent.
    public func allocateTensors() throws {
        plan = nil
        fusedOperators = [:]
        zeroSkippingOperators = []
        let scratch = ScratchAllocations()
        var kernels: [Kernel] = []
        kernels.reserveCapacity(subgraph.operators.count)
        var codes: [BuiltinOperator] = []
        var written = [Bool](repeating: false, count: infos.count)
        for t in subgraph.inputs { written[t] = true }
        // Constants, variables and empty tensors that no operator produces (nothing to read, e.g. a zero-length
        // axis list) count as written.
        let produced = Set(subgraph.operators.flatMap(\.outputs))
        for (t, info) in infos.enumerated()
        where info.isConstant || info.isVariable || (info.elementCount == 0 && !produced.contains(t)) {
            written[t] = true
        }
        for (i, op) in subgraph.operators.enumerated() {
            let code = model.operatorCode(of: op)
            codes.append(code.builtin)
            guard let registration = OperatorRegistry.registrations[code.builtin] else {
                throw EngineError.unsupportedOperators(["builtin op \(code.builtin.name) is not supported"])
            }
            for t in op.inputs where t >= 0 && !written[t] {
                throw EngineError.invalidOperator(index: i, op: code.displayName,
                                                  reason: "reads tensor \(t) ('\(infos[t].name)') before anything writes it")
            }
            for t in op.outputs {
                if infos[t].isConstant || (written[t] && !infos[t].isVariable) {
                    throw EngineError.invalidOperator(index: i, op: code.displayName,
                                                      reason: "writes tensor \(t) ('\(infos[t].name)'), which is constant or already written")
                }
                guard infos[t].type.byteSize != nil else {
                    throw EngineError.invalidOperator(index: i, op: code.displayName, reason: "output type \(infos[t].type) is not supported")
                }
                written[t] = true
            }
            var context = PrepareContext(index: i, op: op, code: code, kernels: options.kernels,
                                         threadCount: options.threadCount ?? ProcessInfo.processInfo.activeProcessorCount,
                                         pool: pool, tensors: [], scratch: scratch)
            context.floatPrecision = options.floatPrecision
            context.requantization = options.requantization ?? .default(for: options.kernels)
            swap(&context.tensors, &infos)
            do {
                let kernel = try registration.prepare(&context)
                swap(&context.tensors, &infos)
                kernels.append(kernel)
            } catch let e as KernelError {
                swap(&context.tensors, &infos)
                throw EngineError.invalidOperator(index: i, op: code.displayName, reason: e.reason)
            } catch {
                swap(&context.tensors, &infos)
                throw error
            }
        }
        for (n, t) in subgraph.outputs.enumerated() where !written[t] {
            throw EngineError.model(.malformed("graph output \(n) (tensor \(t)) is never written"))
        }
        var fusion = options.fusesOperators
            ? KernelFusion.fuse(subgraph: subgraph, codes: codes, infos: infos, kernels: kernels, scratch: scratch,
                                pool: pool, precision: options.floatPrecision)
            : KernelFusion.none(subgraph: subgraph, kernels: kernels)
        let skipping = options.skipsZeros
            ? ZeroSkipping.apply(subgraph: subgraph, codes: codes, kernels: fusion.kernels, scratch: scratch)
            : []
        if options.fusesOperators {
            KernelFusion.fuseProjections(&fusion, infos: infos, scratch: scratch)
        }
        plan = try ExecutionPlan(subgraph: subgraph, infos: infos, kernels: fusion.kernels, uses: fusion.uses,
                                 scratch: scratch, planner: options.memoryPlanner, memoryLimit: options.memoryLimit)
        fusedOperators = fusion.fusedInto
        zeroSkippingOperators = skipping
    }

    /// Runs the model once on the current inputs.
    /// - Throws: `EngineError.tensorsNotAllocated` before `allocateTensors()`; `EngineError.runtime` when an
    ///   operator fails on its data (an index out of range, for example).
    public func invoke() throws {
        guard let plan else { throw EngineError.tensorsNotAllocated }
        let buffers = plan.buffers
        for i in plan.kernels.indices {
            do {
                try plan.kernels[i].invoke(buffers)
            } catch let e as KernelError {
                throw EngineError.runtime(index: i, op: model.operatorCode(of: subgraph.operators[i]).displayName,
                                          reason: e.reason)
            }
        }
    }

    /// Runs the model once and reports each operator's wall time in nanoseconds, in execution order.
    public func invoke(timingOperators report: (_ index: Int, _ nanoseconds: UInt64) -> Void) throws {
        guard let plan else { throw EngineError.tensorsNotAllocated }
        let buffers = plan.buffers
        for i in plan.kernels.indices {
            let start = DispatchTime.now().uptimeNanoseconds
            do {
                try plan.kernels[i].invoke(buffers)
            } catch let e as KernelError {
                throw EngineError.runtime(index: i, op: model.operatorCode(of: subgraph.operators[i]).displayName,
                                          reason: e.reason)
            }
            report(i, DispatchTime.now().uptimeNanoseconds - start)
        }
    }

    /// A snapshot of input `index`.
    public func input(at index: Int) throws -> Tensor { try tensor(try tensorIndex(input: index)) }

    /// A snapshot of output `index`.
    public func output(at index: Int) throws -> Tensor { try tensor(try tensorIndex(output: index)) }

    /// Copies `data` (little-endian, row-major, the input's own type) into input `index`.
    /// - Throws: `EngineError.invalidArgument` when the byte count does not match the input.
    @discardableResult
    public func copy(_ data: Data, toInputAt index: Int) throws -> Tensor {
        try withUnsafeMutableInput(at: index) { dst in
            guard data.count == dst.count else {
                throw EngineError.invalidArgument("input \(index) needs \(dst.count) bytes, got \(data.count)")
            }
            _ = data.copyBytes(to: dst.bindMemory(to: UInt8.self))
        }
        return try input(at: index)
    }

    /// Gives direct access to input `index`'s bytes (no copy).
    public func withUnsafeMutableInput<R>(at index: Int, _ body: (UnsafeMutableRawBufferPointer) throws -> R) throws -> R {
        let t = try tensorIndex(input: index)
        guard let plan else { throw EngineError.tensorsNotAllocated }
        return try body(UnsafeMutableRawBufferPointer(start: plan.buffers[t], count: infos[t].byteCount))
    }

    /// Gives direct read access to output `index`'s bytes (no copy).
    public func withUnsafeOutput<R>(at index: Int, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        let t = try tensorIndex(output: index)
        guard let plan else { throw EngineError.tensorsNotAllocated }
        return try body(UnsafeRawBufferPointer(start: plan.buffers[t], count: infos[t].byteCount))
    }

    /// The name, type, shape and quantization of input `index`, available before allocation.
    public func inputInfo(at index: Int) throws -> TensorInfo { infos[try tensorIndex(input: index)] }
    /// The name, type, shape and quantization of output `index` (shape final after `allocateTensors()`).
    public func outputInfo(at index: Int) throws -> TensorInfo { infos[try tensorIndex(output: index)] }

    private func tensorIndex(input index: Int) throws -> Int {
        guard index >= 0, index < subgraph.inputs.count else {
            throw EngineError.invalidTensorIndex(index, count: subgraph.inputs.count)
        }
        return subgraph.inputs[index]
    }

    private func tensorIndex(output index: Int) throws -> Int {
        guard index >= 0, index < subgraph.outputs.count else {
            throw EngineError.invalidTensorIndex(index, count: subgraph.outputs.count)
        }
        return subgraph.outputs[index]
    }

    private func tensor(_ t: Int) throws -> Tensor {
        guard let plan else { throw EngineError.tensorsNotAllocated }
        let info = infos[t]
        return Tensor(name: info.name, dataType: info.type, shape: Tensor.Shape(info.shape),
                      data: Data(bytes: plan.buffers[t], count: info.byteCount),
                      quantizationParameters: info.quantization)
    }
}

/// Kernels, arena and tensor pointers for one set of input shapes.
final class ExecutionPlan {
    let kernels: [Kernel]
    let arena: UnsafeMutableRawPointer
    let arenaSize: Int
    /// The arena's mapping when it is large (huge pages on Linux: see `LargeMemory`); nil when it came from malloc.
    let arenaMemory: LargeMemory?
    let pointers: UnsafeMutablePointer<UnsafeMutableRawPointer>
    let scratch: ScratchAllocations
    var buffers: TensorBuffers { TensorBuffers(base: pointers) }

    /// `uses[i]`: the tensors kernel `i` reads or writes (its operator's inputs and outputs unless kernels were
    /// fused).
    init(subgraph: Subgraph, infos: [TensorInfo], kernels: [Kernel], uses: [[Int]], scratch: ScratchAllocations,
         planner: any MemoryPlanner, memoryLimit: Int) throws {
        self.kernels = kernels
        self.scratch = scratch
        let n = infos.count
        var first = [Int](repeating: Int.max, count: n)
        var last = [Int](repeating: -1, count: n)
        for (i, tensors) in uses.enumerated() {
            for t in tensors where t >= 0 {
                first[t] = min(first[t], i)
                last[t] = max(last[t], i)
            }
        }
        // Graph inputs and outputs live for the whole run, as in TFLite: an input set once can be invoked on again
        // (the benchmark does), and outputs stay readable after invoke.
        for t in subgraph.inputs { first[t] = -1; last[t] = Int.max }
        for t in subgraph.outputs { last[t] = Int.max }
        var requestTensors: [Int] = []
        var requests: [BufferRequest] = []
        for (t, info) in infos.enumerated() where !info.isConstant {
            if info.isVariable { first[t] = -1; last[t] = Int.max }
            guard last[t] >= 0 || first[t] != Int.max else { continue }
            requestTensors.append(t)
            requests.append(BufferRequest(size: info.byteCount, firstUse: min(first[t], last[t]), lastUse: last[t]))
        }
        let requested = requests.reduce(0) { $0 + $1.size }
        guard requested <= memoryLimit * 4 else {
            throw EngineError.invalidArgument("the model's tensors need \(requested) bytes, over the \(memoryLimit)-byte memory limit")
        }
        let (offsets, size) = planner.plan(requests, alignment: 64)
        guard size <= memoryLimit else {
            throw EngineError.invalidArgument("the model needs a \(size)-byte arena, over the \(memoryLimit)-byte memory limit")
        }
        arenaSize = size
        if size >= ScratchAllocations.largeRequest, let memory = LargeMemory(bytes: size) {
            arenaMemory = memory
            arena = memory.base
        } else {
            arenaMemory = nil
            arena = UnsafeMutableRawPointer.allocate(byteCount: max(size, 64), alignment: 64)
            arena.initializeMemory(as: UInt8.self, repeating: 0, count: max(size, 64))
        }
        pointers = UnsafeMutablePointer<UnsafeMutableRawPointer>.allocate(capacity: max(n, 1))
        pointers.initialize(repeating: arena, count: max(n, 1))
        for (k, t) in requestTensors.enumerated() {
            pointers[t] = arena + offsets[k]
        }
        for (t, info) in infos.enumerated() {
            guard let c = info.constant, let base = c.baseAddress else { continue }
            let alignment = max(1, info.type.byteSize ?? 1)
            if Int(bitPattern: base) % alignment == 0 {
                // Kernels never write constants: outputs are checked not to be constant at prepare.
                pointers[t] = UnsafeMutableRawPointer(mutating: base)
            } else {
                let copy = scratch.allocate(UInt8.self, count: c.count)
                copy.initialize(from: c.bindMemory(to: UInt8.self).baseAddress!, count: c.count)
                pointers[t] = UnsafeMutableRawPointer(copy)
            }
        }
    }

    deinit {
        if arenaMemory == nil { arena.deallocate() }
        pointers.deallocate()
    }
}
