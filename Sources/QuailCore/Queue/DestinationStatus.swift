import Glibc

/// What quail-send last knew of a remote destination (a domain, or a relay `host:port`), as it publishes it under
/// `queue/status/` for quail-qread and quail-smtpd (standby, callouts). DESIGN.md: "What quail-send knows, others
/// may read".
///
/// One small file per destination, `status/NAME` (`fileName(for:)`), replaced by rename: `up SINCE` or
/// `down SINCE` on its first line, the destination's last answer on the second. quail-send rewrites it whenever
/// a probe or a delivery changes what it says. Freshness is quail-send's alone to vouch for: it rewrites the
/// heartbeat `status/.alive` every probe interval, and a status read while the heartbeat is older than three probe
/// intervals (quail-send stopped) counts as unknown, so a destination that stays up for hours with no mail needs no
/// rewriting. quail-send removes every status at start-up: what an earlier run knew is not known now.
public enum DestinationStatus: Sendable, Equatable {
    /// A host of the destination accepted a connection and spoke SMTP, or took a delivery.
    case up(since: Int, lastAnswer: String)
    /// No host could be reached: recipients wait for it (recovery-aware retry).
    case down(since: Int, lastAnswer: String)
    /// Nothing published, or quail-send is not running.
    case unknown

    /// How many probe intervals the heartbeat may age before every status counts as unknown.
    public static let staleAfter = 3

    /// The status of `destination` at `now`: one `stat` of the heartbeat and one open of the status file.
    public static func read(layout: QueueLayout, destination: String, probeInterval: Int, now: Int) -> DestinationStatus {
        guard let beat = try? FileIO.status(layout.statusHeartbeat), now - Int(beat.st_mtim.tv_sec) <= staleAfter * probeInterval,
            let bytes = try? FileIO.readFile(layout.statusPath(destination))
        else { return .unknown }
        return DestinationStatus(decoding: bytes)
    }

    /// Parses a status file; anything else than `up|down SINCE` then an answer line reads as unknown.
    public init(decoding bytes: [UInt8]) {
        let lines = bytes.split(separator: 0x0A, maxSplits: 1, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        let head = lines[0].split(separator: " ")
        let answer = lines.count > 1 ? String(lines[1].prefix { $0 != "\n" }) : ""
        guard head.count == 2, let since = Int(head[1]) else {
            self = .unknown
            return
        }
        switch head[0] {
        case "up": self = .up(since: since, lastAnswer: answer)
        case "down": self = .down(since: since, lastAnswer: answer)
        default: self = .unknown
        }
    }

    /// The file's bytes; the answer is kept to one line.
    public var encoded: [UInt8] {
        let (word, since, answer) =
            switch self {
            case .up(let since, let answer): ("up", since, answer)
            case .down(let since, let answer): ("down", since, answer)
            case .unknown: ("unknown", 0, "")
            }
        let line = String(String.UnicodeScalarView(answer.unicodeScalars.map { $0 == "\n" || $0 == "\r" ? " " : $0 }))
        return Array("\(word) \(since)\n\(line)\n".utf8)
    }

    /// `up`, `down` or `unknown`.
    public var word: String {
        switch self {
        case .up: "up"
        case .down: "down"
        case .unknown: "unknown"
        }
    }

    /// Since when it has been up or down; nil when unknown.
    public var since: Int? {
        switch self {
        case .up(let since, _), .down(let since, _): since
        case .unknown: nil
        }
    }

    public var lastAnswer: String {
        switch self {
        case .up(_, let answer), .down(_, let answer): answer
        case .unknown: ""
        }
    }

    /// The file name of `destination` under `status/`: letters, digits and `-_.:[]` as they are, every other byte
    /// as `%XX` (so `/` cannot leave the directory and `%` stays unambiguous), a leading `.` escaped too (the
    /// scratch file and the heartbeat start with one), and the empty name as `%`.
    public static func fileName(for destination: String) -> String {
        guard !destination.isEmpty else { return "%" }
        var name = ""
        for (offset, byte) in destination.utf8.enumerated() {
            let plain = (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
                || Array("-_.:[]".utf8).contains(byte)
            if plain && !(offset == 0 && byte == UInt8(ascii: ".")) {
                name.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                let hex = String(byte, radix: 16, uppercase: true)
                name += "%" + (hex.count < 2 ? "0" : "") + hex
            }
        }
        return name
    }
}
