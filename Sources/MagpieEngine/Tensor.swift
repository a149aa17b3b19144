import Foundation
import MagpieModel

/// A snapshot of one input or output tensor, in the shape TensorFlowLiteSwift users know.
///
/// `Tensor` is a value (`Sendable`): `data` is a copy taken when it was read.
public struct Tensor: Sendable, Equatable {
    /// The tensor's dimensions.
    public struct Shape: Sendable, Equatable, ExpressibleByArrayLiteral, CustomStringConvertible {
        public let dimensions: [Int]
        public var rank: Int { dimensions.count }
        public init(_ dimensions: [Int]) { self.dimensions = dimensions }
        public init(_ dimensions: Int...) { self.dimensions = dimensions }
        public init(arrayLiteral elements: Int...) { self.dimensions = elements }
        public var description: String { "[" + dimensions.map(String.init).joined(separator: ", ") + "]" }
    }

    public typealias DataType = TensorType

    public let name: String
    public let dataType: DataType
    public let shape: Shape
    /// Little-endian, row-major bytes.
    public let data: Data
    public let quantizationParameters: QuantizationParameters?
}
