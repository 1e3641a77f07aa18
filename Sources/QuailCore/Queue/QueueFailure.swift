/// Why `quail-queue` refused a message; the raw values are qmail-queue(8)'s exit codes,
/// which every program that calls qmail-queue already reads.
public enum QueueFailure: Int32, Error, Sendable, CaseIterable, CustomStringConvertible {
    case addressTooLong = 11
    case permanentlyRefused = 31
    /// Larger than `databytes`, for a caller who is not the queue's owner (`QueueProgram`). qmail-queue(8) has no
    /// code for it; 32 is ours, a permanent one.
    case tooBig = 32
    /// More than `QueueWriter.maximumRecipients`. Ours too, permanent.
    case tooManyRecipients = 33
    case outOfMemory = 51
    case timeout = 52
    case writeFailed = 53
    case readFailed = 54
    case configurationUnreadable = 55
    case networkTrouble = 56
    case homeTrouble = 61
    case queueDirectoryTrouble = 62
    case tmpTrouble = 63
    case messTrouble = 64
    case stateTrouble = 65
    case todoTrouble = 66
    case temporarilyRefused = 71
    case connectionTimedOut = 72
    case connectionRejected = 73
    case communicationFailed = 74
    case internalBug = 81
    case envelopeFormat = 91

    /// qmail-queue(8): codes 11 through 40 are permanent; every other code is temporary.
    public var isPermanent: Bool { QueueFailure.isPermanent(exitCode: rawValue) }

    /// The same rule for any exit code of a program with qmail-queue's interface, known or not.
    public static func isPermanent(exitCode: Int32) -> Bool { (11...40).contains(exitCode) }

    /// The text qmail-smtpd gives for the code, with its enhanced status code.
    public var description: String {
        QueueFailure.text(forExitCode: rawValue)
    }

    /// The reply text for any exit code of a program with qmail-queue's interface, known or not.
    public static func text(forExitCode code: Int32) -> String {
        switch code {
        case 11: "envelope address too long for qq (#5.1.3)"
        case 31: "mail server permanently rejected message (#5.3.0)"
        case 32: "message too big for the queue (#5.3.4)"
        case 33: "too many recipients for the queue (#5.5.3)"
        case 51: "qq out of memory (#4.3.0)"
        case 52: "qq timeout (#4.3.0)"
        case 53: "qq write error or disk full (#4.3.0)"
        case 54: "qq read error (#4.3.0)"
        case 55: "qq unable to read configuration (#4.3.0)"
        case 56: "qq trouble making network connection (#4.3.0)"
        case 61: "qq trouble in home directory (#4.3.0)"
        case 62...66: "qq trouble creating files in queue (#4.3.0)"
        case 71: "mail server temporarily rejected message (#4.3.0)"
        case 72: "connection to mail server timed out (#4.4.1)"
        case 73: "connection to mail server rejected (#4.4.1)"
        case 74: "communication with mail server failed (#4.4.2)"
        case 81, 91: "qq internal bug (#4.3.0)"
        case 11...40: "mail server permanently rejected message (#5.3.0)"
        default: "qq temporary problem (#4.3.0)"
        }
    }
}
