/// Why a DNS message was rejected; every malformed input ends in one of these, never a trap or a hang.
public enum DNSParseError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The message ends before the field at `offset` is complete.
    case truncated(offset: Int)
    /// The header's section counts cannot fit in a message this long (checked before parsing any of them).
    case countsExceedMessage
    /// A length byte whose top bits are 01 or 10: a label over 63 octets or a retired label type
    /// (RFC 1035 §4.1.4, RFC 6891 §5).
    case badLabelLength(offset: Int, byte: UInt8)
    /// A name longer than 255 octets in wire form (RFC 1035 §2.3.4).
    case nameTooLong(offset: Int)
    /// A compression pointer into the header or past the end of the message.
    case pointerOutOfRange(offset: Int, target: Int)
    /// A compression pointer to itself or further on: only earlier octets may be referenced (RFC 1035 §4.1.4).
    case pointerNotBackward(offset: Int, target: Int)
    /// More compression pointers in one name than any sane encoder writes.
    case tooManyPointers(offset: Int)
    /// An RDATA whose length does not match its type (A not 4 octets, a name not filling RDLENGTH, …).
    case badRecordData(offset: Int, type: DNSType)

    public var description: String {
        switch self {
        case .truncated(let offset): "message truncated at offset \(offset)"
        case .countsExceedMessage: "section counts exceed the message size"
        case .badLabelLength(let offset, let byte): "bad label length \(byte) at offset \(offset)"
        case .nameTooLong(let offset): "name longer than 255 octets at offset \(offset)"
        case .pointerOutOfRange(let offset, let target): "compression pointer at \(offset) to \(target) is out of range"
        case .pointerNotBackward(let offset, let target):
            "compression pointer at \(offset) to \(target) does not point backward"
        case .tooManyPointers(let offset): "too many compression pointers in the name at offset \(offset)"
        case .badRecordData(let offset, let type): "malformed \(type) data at offset \(offset)"
        }
    }
}
