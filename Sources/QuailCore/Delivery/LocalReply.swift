/// The texts quail-local reports, each with its RFC 3463 status code, in one table as qmail keeps its
/// `err_*` texts. They reach the log and, for failures, the bounce the sender reads.
public enum LocalReply {
    public static let deliveredToLoop = "looping: it already has my Delivered-To line (#5.4.6)"
    public static let tooManyHops =
        "looping: too many Received lines, over \(LocalLoopCheck.maximumReceivedLines) (#5.4.6)"
    public static let noMailbox = "no mailbox here by that name (#5.1.1)"
    public static let usage = "usage: quail-local SENDER RECIPIENT (#4.3.5)"

    public static func badRecipient(_ recipient: String) -> String {
        "recipient \"\(printable(recipient))\" is not a local address (#5.1.3)"
    }

    public static func unsafeMailbox(_ recipient: String) -> String {
        "recipient \"\(printable(recipient))\" cannot name a Maildir (#5.1.3)"
    }

    public static func unreadableMessage(_ errno: Errno) -> String {
        "unable to read the message: \(errno) (#4.3.0)"
    }

    public static func unreadableControl(_ error: ControlError) -> String {
        "\(error) (#4.3.0)"
    }

    public static func delivered(_ name: String) -> String { "delivered to Maildir as \(name)" }

    public static func forwarded(_ targets: [String]) -> String { "forwarded to " + targets.joined(separator: ", ") }

    public static func forwardFailed(exitCode: Int32) -> String {
        "forwarding failed: " + QueueFailure.text(forExitCode: exitCode)
    }

    /// `text` with control characters shown as `?`, so a hostile address cannot break the report line.
    static func printable(_ text: String) -> String {
        String(text.unicodeScalars.map { ControlCharacters.isControl($0) ? "?" : Character($0) })
    }
}
