import Glibc

/// Why a Maildir delivery did not happen. Every case is temporary: the queue keeps the message and retries.
public enum MaildirError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A directory of the Maildir (or a parent) is missing and could not be made.
    case cannotCreate(path: String, errno: Errno)
    /// The file under `tmp/` could not be created, written or flushed.
    case cannotWrite(path: String, errno: Errno)
    /// The finished file could not be put into `new/`, or `new/` could not be flushed.
    case cannotCommit(path: String, errno: Errno)
    /// Every name tried was taken.
    case noUniqueName(path: String)

    /// The reason as quail-local reports it, with an RFC 3463 status code.
    public var description: String {
        switch self {
        case .cannotCreate(let path, let errno):
            "unable to create Maildir directory \(path): \(errno) \(MaildirError.statusCode(errno))"
        case .cannotWrite(let path, let errno):
            "unable to write Maildir file \(path): \(errno) \(MaildirError.statusCode(errno))"
        case .cannotCommit(let path, let errno):
            "unable to commit Maildir file \(path): \(errno) \(MaildirError.statusCode(errno))"
        case .noUniqueName(let path):
            "unable to find a unique file name in Maildir \(path) (#4.3.0)"
        }
    }

    /// A full disk is "mail system full" and a quota "mailbox full" (RFC 3463 4.3.1, 4.2.2), so the admin
    /// reading the log sees at once that nothing is broken, only full.
    static func statusCode(_ errno: Errno) -> String {
        switch errno {
        case .noSpace: "(#4.3.1)"
        case .quotaExceeded: "(#4.2.2)"
        default: "(#4.3.0)"
        }
    }
}
