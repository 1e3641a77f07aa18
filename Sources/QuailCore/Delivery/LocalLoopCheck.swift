/// Finds mail loops in a message's header before it is delivered or forwarded. qmail: qmail-local's
/// Delivered-To check and qmail-send's hop count.
///
/// Only the header counts (up to the first empty line): a bounced message quoted in the body carries
/// the same lines and is not a loop.
public enum LocalLoopCheck {
    /// RFC 5321 §6.3 asks for a hop limit; 100, as qmail-smtpd and DESIGN.md use.
    public static let maximumReceivedLines = 100

    /// What the header says about earlier hops.
    public struct Hops: Sendable, Equatable {
        /// The addresses of every `Delivered-To:` field, trimmed.
        public var deliveredTo: [String] = []
        /// How many `Received:` fields there are.
        public var receivedCount = 0
    }

    /// Reads the `Delivered-To:` and `Received:` fields of the header of `message` (LF-ended text).
    public static func hops(in message: [UInt8]) -> Hops {
        var hops = Hops()
        var start = message.startIndex
        while start < message.endIndex {
            let end = message[start...].firstIndex(of: 0x0A) ?? message.endIndex
            let line = message[start..<end]
            if line.isEmpty || line == [0x0D] { break }
            if let value = fieldValue(line, named: "delivered-to") {
                hops.deliveredTo.append(value)
            } else if fieldValue(line, named: "received") != nil {
                hops.receivedCount += 1
            }
            start = end + 1
        }
        return hops
    }

    /// Why delivering `message` to `recipient` would loop, or `nil` when it would not.
    public static func loopReason(in message: [UInt8], recipient: Address) -> String? {
        let hops = hops(in: message)
        let mine = comparable(recipient.description)
        if hops.deliveredTo.contains(where: { comparable($0) == mine }) {
            return LocalReply.deliveredToLoop
        }
        if hops.receivedCount > maximumReceivedLines {
            return LocalReply.tooManyHops
        }
        return nil
    }

    /// The value of the header field `name` (lowercase) when `line` is that field; continuation lines never match.
    static func fieldValue(_ line: ArraySlice<UInt8>, named name: String) -> String? {
        let nameBytes = Array(name.utf8)
        guard line.count > nameBytes.count, line[line.startIndex + nameBytes.count] == UInt8(ascii: ":") else {
            return nil
        }
        for (offset, byte) in nameBytes.enumerated() where asciiLowercase(line[line.startIndex + offset]) != byte {
            return nil
        }
        let value = line[(line.startIndex + nameBytes.count + 1)...]
        return String(decoding: value, as: UTF8.self).trimmingWhitespace()
    }

    /// An address as loops compare it: without angle brackets, case and a trailing dot on the domain ignored.
    static func comparable(_ address: String) -> String {
        var text = address
        if text.hasPrefix("<") && text.hasSuffix(">") && text.count >= 2 { text = String(text.dropFirst().dropLast()) }
        guard let parsed = Address(text) else { return text.lowercased() }
        return parsed.description.lowercased()
    }

    private static func asciiLowercase(_ byte: UInt8) -> UInt8 {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte + 32 : byte
    }
}
