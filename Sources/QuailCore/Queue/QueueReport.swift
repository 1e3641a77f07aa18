/// A read-only look at everything in the queue, for quail-qstat and quail-qread. qmail: qmail-qread.
public struct QueueReport: Sendable {
    public struct Entry: Sendable {
        public var id: QueueID
        public var state: MessageState
        /// Still in `todo/`: quail-send has not taken it in.
        public var unprocessed: Bool

        public init(id: QueueID, state: MessageState, unprocessed: Bool = false) {
            self.id = id
            self.state = state
            self.unprocessed = unprocessed
        }
    }

    public var entries: [Entry] = []

    /// A report of `entries` as given, for tests and tools that already hold them.
    public init(entries: [Entry]) { self.entries = entries }

    /// Reads every message's envelope and state. Messages that vanish while reading are skipped.
    public init(layout: QueueLayout) throws(Errno) {
        let store = QueueStore(layout: layout)
        for bucket in 0..<QueueLayout.split {
            for id in try store.messIDs(bucket: bucket) {
                if let state = try? store.load(id, path: layout.messPath(id)) { entries.append(Entry(id: id, state: state, unprocessed: false)) }
            }
        }
        for id in try store.todoIDs() {
            guard let spool = try? SpoolFile.read(layout.todoPath(id)) else { continue }
            let state = MessageState(birth: spool.written, bytes: spool.messageBytes, offset: spool.messageOffset, envelope: spool.envelope)
            entries.append(Entry(id: id, state: state, unprocessed: true))
        }
        entries.sort { ($0.state.birth, $0.id) < ($1.state.birth, $1.id) }
    }

    /// qmail-qstat's two lines.
    public var summary: String {
        let unprocessed = entries.filter(\.unprocessed).count
        return "messages in queue: \(entries.count)\nmessages in queue but not yet preprocessed: \(unprocessed)\n"
    }

    /// `{"messages": N, "unprocessed": M}`.
    public var summaryJSON: String {
        "{\"messages\": \(entries.count), \"unprocessed\": \(entries.filter(\.unprocessed).count)}\n"
    }

    /// qmail-qread's listing: a line per message, a line per recipient (`done` before finished ones),
    /// with quail's addition of attempts, next attempt and last error for those still waiting. Addresses and
    /// errors come from outside, so their control characters are escaped: an admin runs this as root.
    public func listing(isLocal: (String) -> Bool) -> String {
        // qmail-qread prints nothing here, which a newcomer cannot tell from a broken command.
        guard !entries.isEmpty else { return "the queue is empty\n" }
        var text = ""
        for entry in entries {
            let state = entry.state
            text += "\(MailDate.formatQread(state.birth))  #\(entry.id)  \(state.bytes)  <\(ControlCharacters.escaped(state.sender))>"
            text += (entry.unprocessed ? "  (not yet preprocessed)" : "") + (state.held ? "  (held)" : "") + "\n"
            for recipient in state.recipients {
                let channel = isLocal(recipient.address) ? "local" : "remote"
                let address = ControlCharacters.escaped(recipient.address), error = ControlCharacters.escaped(recipient.lastError)
                text += "\t" + (recipient.isDone ? "done\t" : "") + "\(channel)\t\(address)"
                if recipient.status == .pending && recipient.attempts > 0 {
                    text += "\t(\(recipient.attempts) attempts, next \(MailDate.formatQread(recipient.nextAttempt)): \(error))"
                } else if recipient.status == .deleted {
                    text += "\t(deleted by the administrator)"
                } else if recipient.status == .failed {
                    text += "\t(failed, bounce pending: \(error))"
                }
                text += "\n"
            }
        }
        return text
    }

    /// One JSON object per line: id, arrived, bytes, sender, recipients, held.
    public var listingJSON: String {
        var text = ""
        for entry in entries {
            let state = entry.state
            let recipients = state.recipients.map { r in
                "{\"address\": \(jsonString(r.address)), \"state\": \"\(r.status.rawValue)\", \"attempts\": \(r.attempts), "
                    + "\"next_attempt\": \(r.status == .pending ? String(r.nextAttempt) : "null"), \"last_error\": \(jsonString(r.lastError))}"
            }
            text += "{\"id\": \"\(entry.id)\", \"arrived\": \(state.birth), \"bytes\": \(state.bytes), \"sender\": \(jsonString(state.sender)), "
                + "\"recipients\": [\(recipients.joined(separator: ", "))], \"held\": \(state.held), \"unprocessed\": \(entry.unprocessed)}\n"
        }
        return text
    }
}

/// A JSON string literal for `value` (RFC 8259 escapes), with DEL and the C1 controls escaped too, so the
/// output is as safe on a terminal as the listing.
func jsonString(_ value: String) -> String {
    var result = "\""
    for scalar in value.unicodeScalars {
        switch scalar {
        case "\"": result += "\\\""
        case "\\": result += "\\\\"
        case "\n": result += "\\n"
        case "\r": result += "\\r"
        case "\t": result += "\\t"
        default:
            if ControlCharacters.isControl(scalar) {
                let hex = String(scalar.value, radix: 16)
                result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            } else {
                result.unicodeScalars.append(scalar)
            }
        }
    }
    return result + "\""
}
