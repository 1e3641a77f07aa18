/// The outcome of one delivery attempt for one recipient. qmail-local 0/100/111, qmail-remote K/D/Z.
public enum DeliveryResult: Sendable, Equatable {
    case delivered(String)
    case deferred(String)
    case failed(String)

    /// The text that goes with the outcome: the local reason or the remote server's reply.
    public var text: String {
        switch self {
        case .delivered(let text), .deferred(let text), .failed(let text): text
        }
    }

    /// The report line a delivery program prints on stdout for one recipient: `K`, `Z` or `D`, then the text.
    ///
    /// quail-local and quail-remote print one such line per recipient, in the order of their arguments.
    /// Line breaks inside the text become spaces, so one line is always one recipient.
    public var reportLine: String {
        // By scalar: in Swift "\r\n" is one Character, and it must not survive to split the line.
        var flat = String.UnicodeScalarView()
        for scalar in text.unicodeScalars { flat.append(scalar == "\n" || scalar == "\r" ? " " : scalar) }
        let line = String(flat)
        switch self {
        case .delivered: return "K" + line + "\n"
        case .deferred: return "Z" + line + "\n"
        case .failed: return "D" + line + "\n"
        }
    }

    /// Parses one report line (without its newline); `nil` when it does not start with K, Z or D.
    public init?(reportLine line: some StringProtocol) {
        guard let first = line.first else { return nil }
        let text = String(line.dropFirst())
        switch first {
        case "K": self = .delivered(text)
        case "Z": self = .deferred(text)
        case "D": self = .failed(text)
        default: return nil
        }
    }

    /// qmail-local's exit codes: 0 delivered, 100 permanent failure, 111 temporary failure.
    public var exitCode: Int32 {
        switch self {
        case .delivered: 0
        case .failed: 100
        case .deferred: 111
        }
    }
}
