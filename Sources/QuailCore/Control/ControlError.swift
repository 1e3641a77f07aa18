/// Why a control file could not be used. qmail's rule: missing means default, unreadable means try later.
public enum ControlError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file exists but could not be read: a temporary failure.
    case unreadable(file: String, errno: Errno)
    /// A line holds a value that does not parse.
    case malformed(file: String, line: Int, reason: String)

    public var description: String {
        switch self {
        case .unreadable(let file, let errno): "cannot read control/\(file): \(errno)"
        case .malformed(let file, let line, let reason): "control/\(file) line \(line): \(reason)"
        }
    }
}
