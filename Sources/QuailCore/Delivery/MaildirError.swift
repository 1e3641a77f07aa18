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
    /// A symbolic link stands where a directory of the Maildir belongs below maildirroot. Temporary like the
    /// rest: the link is the local admin's to remove (or a local user's attempt to redirect mail), nothing the
    /// sender can mend, so the queue keeps the message and the log names the path instead of a bounce
    /// going to a sender who may be forged.
    case symbolicLink(path: String)

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
        case .symbolicLink(let path):
            "Maildir directory \(path) is a symbolic link, which quail does not follow (#4.3.0)"
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
