/// quail-send's log lines, in qmail-send's vocabulary so that existing log tools (qmailanalog, qlogtools) work.
public enum SendLog {
    public static func newMessage(_ id: QueueID) { Diagnostics.log("new msg \(id)") }

    public static func info(_ id: QueueID, bytes: Int, sender: String, uid: UInt32) {
        Diagnostics.log("info msg \(id): bytes \(bytes) from <\(sender)> qp \(id) uid \(uid)")
    }

    public static func starting(_ delivery: Int, _ id: QueueID, channel: Channel, to recipients: [String]) {
        Diagnostics.log("starting delivery \(delivery): msg \(id) to \(channel.rawValue) \(recipients.joined(separator: ","))")
    }

    public static func result(_ delivery: Int, _ result: DeliveryResult) {
        let word: String
        switch result {
        case .delivered: word = "success"
        case .deferred: word = "deferral"
        case .failed: word = "failure"
        }
        // qmail-send writes the child's text with spaces as underscores; a line per event stays greppable.
        let text = result.text.replacingSpaces()
        Diagnostics.log("delivery \(delivery): \(word): \(text)")
    }

    public static func bounce(_ id: QueueID, bounceID: QueueID) { Diagnostics.log("bounce msg \(id) qp \(bounceID)") }

    public static func end(_ id: QueueID) { Diagnostics.log("end msg \(id)") }

    public static func status(local: Int, localMax: Int, remote: Int, remoteMax: Int) {
        Diagnostics.log("status: local \(local)/\(localMax) remote \(remote)/\(remoteMax)")
    }

    public static func warning(_ text: String) { Diagnostics.log("warning: \(text)") }

    public static func alert(_ text: String) { Diagnostics.log("alert: \(text)") }
}

/// The two kinds of delivery, each with its own concurrency limit.
public enum Channel: String, Sendable {
    case local, remote
}

extension String {
    fileprivate func replacingSpaces() -> String {
        String(map { $0 == " " ? "_" : $0 })
    }
}
