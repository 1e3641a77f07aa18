/// One message between quail-send and a delivery worker (docs/DESIGN.md, "Delivery workers"): a netstring
/// whose payload is netstring fields, the first naming the frame.
///
///     control NAME CONTENTS NAME CONTENTS ...     quail-send → worker, once, first
///     deliver PATH OFFSET SENDER RECIPIENT ...    quail-send → worker, one delivery
///     result REPORT KEPT                          worker → quail-send, one per deliver
public enum WorkerFrame: Sendable, Equatable {
    /// The control files quail-send parsed; the worker's whole configuration.
    case control(ControlSnapshot)
    /// One delivery: the spooled message at `path` from byte `offset` on, its sender and recipients (all at
    /// one domain for quail-remote, exactly one for quail-local).
    case deliver(path: String, offset: Int, sender: String, recipients: [String])
    /// The report the one-shot program prints on stdout (a K, Z or D line per recipient; quail-remote adds its
    /// H line), and the destination whose SMTP session the worker keeps open after it, if any.
    case result(report: [UInt8], kept: String?)

    /// The frame on the wire.
    public var encoded: [UInt8] {
        switch self {
        case .control(let snapshot):
            Netstring.encode(fields: [Array("control".utf8)] + snapshot.fields)
        case .deliver(let path, let offset, let sender, let recipients):
            Netstring.encode(fields: ["deliver", path, String(offset), sender].map { Array($0.utf8) } + recipients.map { Array($0.utf8) })
        case .result(let report, let kept):
            Netstring.encode(fields: [Array("result".utf8), report, Array((kept ?? "").utf8)])
        }
    }

    /// The frame `fields` make; nil when they make none.
    public init?(fields: [[UInt8]]) {
        guard let name = fields.first.map({ String(decoding: $0, as: UTF8.self) }) else { return nil }
        let text = fields.dropFirst().map { String(decoding: $0, as: UTF8.self) }
        switch name {
        case "control":
            guard let snapshot = ControlSnapshot(fields: fields.dropFirst()) else { return nil }
            self = .control(snapshot)
        case "deliver":
            guard text.count >= 4, let offset = Int(text[1]), offset >= 0 else { return nil }
            self = .deliver(path: text[0], offset: offset, sender: text[2], recipients: Array(text[3...]))
        case "result":
            guard fields.count == 3 else { return nil }
            self = .result(report: fields[1], kept: text[1].isEmpty ? nil : text[1])
        default:
            return nil
        }
    }
}

/// Frames as they arrive on a pipe: bytes go in as read, whole frames come out.
public struct WorkerFrameReader: Sendable {
    private var buffer: [UInt8] = []

    public init() {}

    public mutating func append(_ bytes: some Sequence<UInt8>) { buffer.append(contentsOf: bytes) }

    /// The next whole frame; nil until one has arrived. Throws on bytes that are no frame: the peer is confused,
    /// and the channel is closed.
    public mutating func next() throws(Netstring.Malformed) -> WorkerFrame? {
        guard let (payload, consumed) = try Netstring.decode(buffer[...]) else { return nil }
        let fields = try Netstring.fields(of: payload)
        buffer.removeFirst(consumed)
        guard let frame = WorkerFrame(fields: fields) else { throw Netstring.Malformed(reason: "not a worker frame") }
        return frame
    }
}
