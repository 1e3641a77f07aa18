import Glibc

/// Delivers one message to one local recipient: into its Maildir, or forwarded per `aliases`. qmail: qmail-local.
///
/// The result is a value, never a throw: every path ends in exactly one report line and exit code
/// (0 delivered, 100 permanent failure, 111 temporary failure), which quail-send acts on.
public struct LocalDelivery: Sendable {
    /// Hands a message to the queue and returns the queue program's exit code (qmail-queue(8)).
    public typealias Submitter = @Sendable (_ message: [UInt8], _ envelope: Envelope) -> Int32

    public var configuration: Configuration
    /// How forwarded messages are queued: `QueueClient` by default, a recorder in tests.
    public var submit: Submitter

    public init(configuration: Configuration, submit: Submitter? = nil) {
        self.configuration = configuration
        self.submit = submit ?? { QueueClient().submit(message: $0, envelope: $1) }
    }

    /// The program: `quail-local SENDER RECIPIENT` delivers the message on stdin, prints the report line on
    /// stdout and returns the exit code; `quail-local --worker` serves quail-send (`DeliveryWorker`).
    public static func main(arguments: [String], home: QuailHome = QuailHome()) -> Int32 {
        if arguments == ["--worker"] {
            return DeliveryWorker.serve("quail-local", home: home) { LocalWorker(configuration: $0) }
        }
        // Temporary, not permanent: a caller's bug must not bounce the message.
        let result = arguments.count == 2 ? run(sender: arguments[0], recipient: arguments[1]) : .deferred(LocalReply.usage)
        try? FileIO.writeAll(STDOUT_FILENO, result.reportLine)
        return result.exitCode
    }

    /// Reads the control files under `home` and the message on `input`, then delivers it.
    /// What cannot be read is a temporary failure: the queue keeps the message for later.
    public static func run(
        sender: String, recipient: String, home: QuailHome = QuailHome(), input: Int32 = STDIN_FILENO
    ) -> DeliveryResult {
        // The message first: a caller writing it into a pipe never meets EPIPE because of a bad control file.
        let message: [UInt8]
        do {
            message = try FileIO.readAll(input)
        } catch {
            return .deferred(LocalReply.unreadableMessage(error))
        }
        let configuration: Configuration
        do {
            configuration = try Configuration(home: home, only: Configuration.localDeliveryFiles)
        } catch {
            return .deferred(LocalReply.unreadableControl(error))
        }
        let delivery = LocalDelivery(configuration: configuration)
        return delivery.deliver(sender: sender, recipient: recipient, message: message)
    }

    /// Delivers `message` (LF-ended, starting with the queue's `Received:` line) from `sender` to `recipient`.
    public func deliver(sender: String, recipient: String, message: [UInt8]) -> DeliveryResult {
        guard let local = LocalRecipient(recipient) else { return .failed(LocalReply.badRecipient(recipient)) }
        // Before forwarding too: an alias loop a → b → a must end here, in one bounce.
        if let loop = LocalLoopCheck.loopReason(in: message, recipient: local.address) { return .failed(loop) }
        guard let maildir = local.maildir(root: configuration.maildirRoot) else {
            let problem = MailboxName.problem(localPart: local.address.localPart)
            return .failed(LocalReply.unsafeMailbox(recipient, problem))
        }
        // The rule quail-smtpd applies at RCPT; this catches mail that came another way (quail-inject).
        switch LocalMailboxes(configuration: configuration).verdict(for: local.address) {
        case .valid: break
        case .badName(let problem): return .failed(LocalReply.unsafeMailbox(recipient, problem))
        case .unknown: return .failed(LocalReply.noMailbox)
        case .cannotTell(let error): return .deferred(error.description)
        }
        if let targets = configuration.aliases[local.aliasKey] {
            return forward(message, from: sender, for: local, to: local.expand(aliasTargets: targets))
        }
        return store(message, from: sender, for: local, in: maildir)
    }

    /// Writes `Return-Path:`, `Delivered-To:` and the unchanged message into `maildir`, creating it if missing.
    func store(
        _ message: [UInt8], from sender: String, for local: LocalRecipient, in maildir: Maildir
    ) -> DeliveryResult {
        let top = LocalDelivery.returnPathLine(sender) + LocalDelivery.deliveredToLine(local)
        do throws(MaildirError) {
            let name = try maildir.deliver([Array(top.utf8), message])
            return .delivered(LocalReply.delivered(name))
        } catch {
            return .deferred(error.description)
        }
    }

    /// Queues the message again for `targets`, with the same envelope sender (so bounces reach the
    /// original sender) and our `Delivered-To:` line on top (so a loop back to us is seen).
    func forward(
        _ message: [UInt8], from sender: String, for local: LocalRecipient, to targets: [String]
    ) -> DeliveryResult {
        let forwarded = Array(LocalDelivery.deliveredToLine(local).utf8) + message
        let code = submit(forwarded, Envelope(sender: sender, recipients: targets))
        if code == 0 { return .delivered(LocalReply.forwarded(targets)) }
        // qmail-queue(8): 11 through 40 are permanent, every other code (known or not) temporary.
        if QueueFailure.isPermanent(exitCode: code) { return .failed(LocalReply.forwardFailed(exitCode: code)) }
        return .deferred(LocalReply.forwardFailed(exitCode: code))
    }

    /// `Return-Path: <sender>`; `<>` for the null sender, `<#@[]>` for a double bounce, as qmail writes them.
    static func returnPathLine(_ sender: String) -> String {
        // A line break in the sender would start a forged header field in the mailbox.
        "Return-Path: <\(LocalReply.printable(sender))>\n"
    }

    static func deliveredToLine(_ local: LocalRecipient) -> String {
        "Delivered-To: \(local.original)\n"
    }
}
