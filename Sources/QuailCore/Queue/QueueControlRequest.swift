/// One queue operation, as quail-qctl asks for it (or quail-smtpd, for ETRN) and as it travels to quail-send on
/// `queue/lock/control`. Postfix: postqueue -f / -s, postsuper -d / -h / -H / -r.
public enum QueueControlRequest: Sendable, Equatable {
    /// Every waiting recipient (or those at one domain) is due now; down marks are cleared.
    case flush(domain: String?)
    /// ETRN: a flush of one domain that any client may ask for, so quail-send carries out at most one per
    /// destination per probe interval (DESIGN.md, ETRN). quail-qctl's flush has no such limit.
    case etrn(domain: String)
    /// The message makes no attempts until released; a running delivery finishes.
    case hold(QueueID)
    /// A held message is due again now.
    case release(QueueID)
    /// The selected pending recipients are dropped, with a bounce to the sender only when `bounce` is set.
    case delete(QueueSelection, bounce: Bool)
    /// Control files reread, every down mark cleared, every waiting recipient due now and routed afresh.
    case requeue

    /// The line written on the FIFO, without its newline.
    public var line: String {
        switch self {
        case .flush(nil): "flush"
        case .flush(let domain?): "flush \(domain)"
        case .etrn(let domain): "etrn \(domain)"
        case .hold(let id): "hold \(id)"
        case .release(let id): "release \(id)"
        case .delete(let selection, let bounce): "\(bounce ? "delete-bounce" : "delete") \(selection.words)"
        case .requeue: "requeue"
        }
    }

    /// Parses a FIFO line; `nil` for anything else.
    public init?(line: Substring) {
        let words = line.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        let argument = words.count == 2 ? words[1] : nil
        switch (words[0], argument) {
        case ("flush", nil): self = .flush(domain: nil)
        case ("flush", let domain?) where !domain.isEmpty && !domain.contains(" "): self = .flush(domain: domain)
        case ("etrn", let domain?) where !domain.isEmpty && !domain.contains(" "): self = .etrn(domain: domain)
        case ("hold", let id?): guard let id = QueueID(id) else { return nil }; self = .hold(id)
        case ("release", let id?): guard let id = QueueID(id) else { return nil }; self = .release(id)
        case ("delete", let rest?), ("delete-bounce", let rest?):
            guard let selection = QueueSelection(words: rest) else { return nil }
            self = .delete(selection, bounce: words[0] == "delete-bounce")
        case ("requeue", nil): self = .requeue
        default: return nil
        }
    }
}

/// Which messages or recipients a delete applies to.
public enum QueueSelection: Sendable, Equatable {
    /// Every pending recipient of one message.
    case message(QueueID)
    /// Every pending recipient at this domain (lowercased, no trailing dot), in whatever message.
    case domain(String)
    /// Every pending recipient of every message from this envelope sender (compared without case; "" is `<>`).
    case sender(String)

    /// `id N`, `domain D`, `sender S`: the sender goes last because it may hold spaces (a quoted local part).
    var words: String {
        switch self {
        case .message(let id): "id \(id)"
        case .domain(let domain): "domain \(domain)"
        case .sender(let sender): "sender \(sender)"
        }
    }

    init?(words: String) {
        let parts = words.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2 else { return nil }
        switch parts[0] {
        case "id": guard let id = QueueID(parts[1]) else { return nil }; self = .message(id)
        case "domain": guard !parts[1].isEmpty else { return nil }; self = .domain(Address.normalizedDomain(parts[1]))
        case "sender": self = .sender(parts[1])
        default: return nil
        }
    }

    /// The pending recipients of message `id` that this selection takes.
    public func recipients(of state: MessageState, id: QueueID) -> [Int] {
        let pending = state.recipients.indices.filter { state.recipients[$0].status == .pending }
        switch self {
        case .message(let wanted): return wanted == id ? pending : []
        case .domain(let domain): return pending.filter { Address.domain(of: state.recipients[$0].address) == domain }
        case .sender(let sender): return state.sender.lowercased() == sender.lowercased() ? pending : []
        }
    }
}

extension MessageState {
    /// What a bounce of a deleted recipient says; class 5, as Exim's "cancelled by administrator".
    public static let deletedText = "This message was deleted from the queue by the administrator. (#5.0.0)"

    /// Drops recipients `indices` (pending ones) as quail-qctl's delete asks: deleted, or failed so that a bounce
    /// reports them when `bounce` is set.
    public mutating func delete(_ indices: [Int], bounce: Bool) {
        for index in indices where recipients[index].status == .pending {
            recipients[index].status = bounce ? .failed : .deleted
            recipients[index].lastError = bounce ? MessageState.deletedText : "deleted by the administrator"
        }
    }
}
