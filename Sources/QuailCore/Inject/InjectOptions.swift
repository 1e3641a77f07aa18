/// What the command line of quail-inject or quail-sendmail asks for.
public struct InjectOptions: Sendable, Equatable {
    /// What `quail-inject --help` prints, and the reminder after a bad command line.
    public static let injectUsage = """
        usage: quail-inject [-t] [-f SENDER] [-F NAME] [--] [RECIPIENT ...]
        Reads a message on stdin, completes its header (From, Date, Message-ID) and queues it
        through quail-queue. Without RECIPIENTs they come from the To, Cc and Bcc lines.
          -t, -h     take the recipients from the header as well
          -f SENDER  the envelope sender; -f '' for the null sender
          -F NAME    the display name of a generated From line
        Exit 0 queued, 100 refused for good, 111 try again later.
        """

    /// The envelope sender from `-f`; `nil` means the default user@host, `""` the null sender.
    public var sender: String?
    /// The display name for a generated `From:` (`-F`).
    public var fullName: String?
    /// Recipients named on the command line, each an address list.
    public var recipients: [String]
    /// Whether the header's `To:`, `Cc:` and `Bcc:` are read even though arguments name recipients (`-t`).
    public var recipientsFromHeader: Bool
    /// Whether a line holding only `.` ends the input (sendmail without `-i` or `-oi`).
    public var dotEndsInput: Bool

    public init(
        sender: String? = nil, fullName: String? = nil, recipients: [String] = [],
        recipientsFromHeader: Bool = false, dotEndsInput: Bool = false
    ) {
        self.sender = sender
        self.fullName = fullName
        self.recipients = recipients
        self.recipientsFromHeader = recipientsFromHeader
        self.dotEndsInput = dotEndsInput
    }

    /// quail-inject's command line: `[-t] [-f SENDER] [-F NAME] [--] [RECIPIENT ...]`, where `-fSENDER`
    /// and `-FNAME` work too. Recipients come from the header when none are given.
    public static func parseInject(_ arguments: [String]) throws(InjectError) -> InjectOptions {
        var options = InjectOptions()
        var index = 0
        while index < arguments.count, arguments[index].hasPrefix("-"), arguments[index] != "-" {
            let argument = arguments[index]
            index += 1
            if argument == "--" { break }
            switch argument.prefix(2) {
            case "-t" where argument.count == 2, "-h" where argument.count == 2:
                options.recipientsFromHeader = true
            case "-f":
                options.sender = try OptionScanner.value(of: argument, arguments, &index)
            case "-F":
                options.fullName = try OptionScanner.value(of: argument, arguments, &index)
            default:
                throw .usage("unknown option \(argument)")
            }
        }
        options.recipients = Array(arguments[index...])
        return options
    }
}

/// getopt's rule for an option's value: the rest of the argument (`-fSENDER`), else the next argument.
enum OptionScanner {
    static func value(of argument: String, _ arguments: [String], _ index: inout Int) throws(InjectError) -> String {
        let attached = String(argument.dropFirst(2))
        if !attached.isEmpty { return attached }
        guard index < arguments.count else { throw .usage("option \(argument) needs a value") }
        index += 1
        return arguments[index - 1]
    }
}
