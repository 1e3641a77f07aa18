/// quail-qctl's command line, parsed. Postfix: postqueue(1), postsuper(1).
///
///     quail-qctl flush [DOMAIN]
///     quail-qctl hold ID | release ID
///     quail-qctl delete [--bounce] ID | --domain DOMAIN | --sender SENDER
///     quail-qctl requeue
///
/// `--timeout SECONDS` (anywhere) bounds the wait for quail-send to carry a request out; the default is 30.
public struct QueueControlCommand: Sendable, Equatable {
    public var request: QueueControlRequest
    /// Seconds to wait for the effect (or for the lock, or for quail-send to read its FIFO).
    public var timeout: Int = 30

    public static let usage = """
        usage: quail-qctl [--timeout SECONDS] flush [DOMAIN] | hold ID | release ID | requeue
               quail-qctl [--timeout SECONDS] delete [--bounce] ID | --domain DOMAIN | --sender SENDER
        """

    public init(request: QueueControlRequest, timeout: Int = 30) {
        self.request = request
        self.timeout = timeout
    }

    /// Parses the arguments after the program name.
    public init(arguments: [String]) throws(QueueControlError) {
        var words: [String] = []
        var timeout = 30
        var bounce = false
        var domain: String?
        var sender: String?
        var iterator = arguments.makeIterator()
        while let word = iterator.next() {
            switch word {
            case "--timeout":
                guard let value = iterator.next().flatMap({ Int($0) }), value >= 0 else { throw .usage("--timeout needs a number of seconds") }
                timeout = value
            case "--bounce": bounce = true
            case "--domain":
                guard let value = iterator.next(), !value.isEmpty, !value.contains(where: \.isWhitespace) else {
                    throw .usage("--domain needs a domain")
                }
                domain = Address.normalizedDomain(value)
            case "--sender":
                guard let value = iterator.next() else { throw .usage("--sender needs an address (<> for the null sender)") }
                sender = try Self.envelopeAddress(value)
            default:
                if word.hasPrefix("-") { throw .usage("unknown option \(word)") }
                words.append(word)
            }
        }
        guard let verb = words.first else { throw .usage("no command given") }
        let operands = Array(words.dropFirst())
        if verb != "delete" && (bounce || domain != nil || sender != nil) {
            throw .usage("--bounce, --domain and --sender go with delete")
        }
        switch (verb, operands.count) {
        case ("flush", 0): request = .flush(domain: nil)
        case ("flush", 1):
            guard !operands[0].isEmpty else { throw .usage("flush needs a domain or nothing") }
            request = .flush(domain: Address.normalizedDomain(operands[0]))
        case ("hold", 1): request = .hold(try Self.queueID(operands[0]))
        case ("release", 1): request = .release(try Self.queueID(operands[0]))
        case ("requeue", 0): request = .requeue
        case ("delete", _):
            let selections: [QueueSelection] = try operands.map { (id) throws(QueueControlError) in .message(try Self.queueID(id)) }
                + [domain.map(QueueSelection.domain), sender.map(QueueSelection.sender)].compactMap { $0 }
            guard selections.count == 1 else { throw .usage("delete takes exactly one of ID, --domain DOMAIN, --sender SENDER") }
            request = .delete(selections[0], bounce: bounce)
        case ("flush", _), ("hold", _), ("release", _), ("requeue", _): throw .usage("wrong number of arguments for \(verb)")
        default: throw .usage("unknown command \(verb)")
        }
        self.timeout = timeout
    }

    /// A queue id as quail-qread prints it (`#123`) or bare.
    static func queueID(_ text: String) throws(QueueControlError) -> QueueID {
        let digits = text.hasPrefix("#") ? String(text.dropFirst()) : text
        guard let id = QueueID(digits) else { throw .usage("\(text) is not a queue id (quail-qread prints them as #N)") }
        return id
    }

    /// An envelope sender as given on the command line: angle brackets optional, `<>` the null sender.
    static func envelopeAddress(_ text: String) throws(QueueControlError) -> String {
        var address = text
        if address.hasPrefix("<") && address.hasSuffix(">") && address.count >= 2 { address = String(address.dropFirst().dropLast()) }
        // The request travels as one FIFO line under PIPE_BUF.
        guard !address.contains(where: { $0 == "\n" || $0 == "\r" || $0 == "\0" }), address.utf8.count <= 1000 else {
            throw .usage("not an envelope address: \(text)")
        }
        return address
    }
}

/// Why quail-qctl did not do what was asked; `exitCode` is what it exits with.
public enum QueueControlError: Error, Equatable, CustomStringConvertible {
    /// Bad arguments: exit 100.
    case usage(String)
    /// No message with this id in the queue: exit 100.
    case unknownID(QueueID)
    /// The queue or quail-send could not be reached or did not answer in time: exit 111, try again.
    case temporary(String)

    public var exitCode: Int32 {
        switch self {
        case .usage, .unknownID: 100
        case .temporary: 111
        }
    }

    public var description: String {
        switch self {
        case .usage(let text): "\(text)\n\(QueueControlCommand.usage)"
        case .unknownID(let id): "no message #\(id) in the queue"
        case .temporary(let text): text
        }
    }
}
