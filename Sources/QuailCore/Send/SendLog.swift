/// quail-send's log lines, in qmail-send's vocabulary so that existing log tools (qmailanalog, qlogtools) work.
public enum SendLog {
    public static func newMessage(_ id: QueueID) { Diagnostics.log("new msg \(id)") }

    /// `info msg N: bytes B from <S> qp P uid U`. P is the pid of the quail-queue that wrote the message, as
    /// quail-smtpd logs it (and says in its 250 reply), or the message's own id for one quail-send queued
    /// itself (a bounce, whose `bounce msg M qp N` line names it so); U is the uid that ran quail-queue.
    public static func info(_ id: QueueID, bytes: Int, sender: String, qp: UInt64, uid: UInt32) {
        Diagnostics.log("info msg \(id): bytes \(bytes) from <\(sender)> qp \(qp) uid \(uid)")
    }

    /// The pid and real uid in the line quail-queue puts on top of every message it writes,
    /// `Received: (quail PID invoked by uid UID); DATE` (`QueueWriter.receivedLine`); nil for any other start.
    public static func queueOrigin(ofMessageStart bytes: some Collection<UInt8>) -> (qp: UInt64, uid: UInt32)? {
        let line = String(decoding: bytes.prefix { $0 != 0x0A }, as: UTF8.self)
        let words = line.split(separator: " ", maxSplits: 7)
        guard words.count >= 7, words[0] == "Received:", words[1] == "(quail", words[3...5] == ["invoked", "by", "uid"],
              words[6].hasSuffix(");"), let qp = UInt64(words[2]), let uid = UInt32(words[6].dropLast(2))
        else { return nil }
        return (qp, uid)
    }

    public static func starting(_ delivery: Int, _ id: QueueID, channel: Channel, to recipients: [String]) {
        Diagnostics.log("starting delivery \(delivery): msg \(id) to \(channel.rawValue) \(recipients.joined(separator: ","))")
    }

    /// `delivery D: host H tls=TLSv1.3 verified`: how the session to the host that took the delivery was secured.
    public static func tls(_ delivery: Int, host: String, _ tls: String) {
        Diagnostics.log("delivery \(delivery): host \(host) tls=\(tls)")
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
