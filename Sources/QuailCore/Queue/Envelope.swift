/// A message's envelope: one sender (empty for the null sender) and its recipients.
///
/// The wire form is qmail-queue's: `F` sender NUL, then `T` recipient NUL per recipient, then one more NUL.
public struct Envelope: Sendable, Equatable {
    public var sender: String
    public var recipients: [String]

    /// The longest address accepted; longer ones are qmail-queue's exit 11.
    public static let maximumAddressLength = 1000

    public init(sender: String, recipients: [String]) {
        self.sender = sender
        self.recipients = recipients
    }

    /// The envelope in qmail-queue's format.
    public var encoded: [UInt8] {
        var bytes: [UInt8] = [UInt8(ascii: "F")]
        bytes += sender.utf8
        bytes.append(0)
        for recipient in recipients {
            bytes.append(UInt8(ascii: "T"))
            bytes += recipient.utf8
            bytes.append(0)
        }
        bytes.append(0)
        return bytes
    }

    /// Parses an envelope that must fill `bytes` exactly.
    public static func parse(_ bytes: some Collection<UInt8>) throws(QueueFailure) -> Envelope {
        let array = Array(bytes)
        guard let (envelope, length) = try parsePrefix(array), length == array.count else {
            throw .envelopeFormat
        }
        return envelope
    }

    /// Parses an envelope at the start of `bytes`; returns it and its length, or `nil` when it is incomplete.
    public static func parsePrefix(_ bytes: [UInt8]) throws(QueueFailure) -> (Envelope, Int)? {
        var position = 0
        var sender: String?
        var recipients: [String] = []
        while position < bytes.count {
            let kind = bytes[position]
            if kind == 0 {
                guard let sender, !recipients.isEmpty else { throw .envelopeFormat }
                return (Envelope(sender: sender, recipients: recipients), position + 1)
            }
            guard let end = bytes[position...].firstIndex(of: 0) else { return nil }
            let address = bytes[(position + 1)..<end]
            guard address.count <= maximumAddressLength else { throw .addressTooLong }
            let text = String(decoding: address, as: UTF8.self)
            // Measured again after decoding, as the spool stores it: each invalid byte becomes U+FFFD (3 octets), and an
            // envelope accepted here must parse again from the spool.
            guard text.utf8.count <= maximumAddressLength else { throw .addressTooLong }
            switch kind {
            case UInt8(ascii: "F") where sender == nil: sender = text
            case UInt8(ascii: "T") where sender != nil: recipients.append(text)
            default: throw .envelopeFormat
            }
            position = end + 1
        }
        return nil
    }
}
