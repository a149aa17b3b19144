import MagpieModel

/// The one table of operators the engine runs. Each operator file adds its registrations to a group list.
enum OperatorRegistry {
    static let registrations: [BuiltinOperator: OperatorRegistration] = {
        var table: [BuiltinOperator: OperatorRegistration] = [:]
        for r in ConvolutionOperators.all + ElementwiseOperators.all + ShapeOperators.all {
            precondition(table[r.op] == nil, "\(r.op) registered twice")
            table[r.op] = r
        }
        return table
    }()

    /// The builtin operators this engine supports.
    static var supported: [BuiltinOperator] { registrations.keys.sorted { $0.rawValue < $1.rawValue } }

    /// Names every operator of `model` the engine cannot run, once each, in model order.
    static func unsupportedOperators(in model: Model) -> [String] {
        var seen = Set<Int>()
        var problems: [String] = []
        for g in model.subgraphs {
            for op in g.operators where seen.insert(op.opcodeIndex).inserted {
                let code = model.operatorCodes[op.opcodeIndex]
                if code.builtin == .custom {
                    problems.append("custom op '\(code.customCode ?? "")' is not supported")
                } else if registrations[code.builtin] == nil {
                    problems.append("builtin op \(code.builtin.name) (version \(code.version)) is not supported")
                }
            }
        }
        return problems
    }
}
