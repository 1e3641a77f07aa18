/// Why quail-mxcheck could not check at all (DNS unreachable, control files unreadable); exit 111.
public struct MXCheckUnavailable: Error, Sendable, Hashable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
