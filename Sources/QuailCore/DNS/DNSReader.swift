/// Bounds-checked reads from one DNS message: every length and offset is checked before the read.
struct DNSReader {
    let bytes: [UInt8]
    /// Where the next sequential read starts.
    var offset: Int

    /// A legitimate encoder points once per name; pointers to pointers are legal but rare.
    static let maximumPointers = 16

    init(_ bytes: [UInt8], offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    var remaining: Int { bytes.count - offset }

    /// Checks that `count` octets are left, without reading them.
    func need(_ count: Int) throws(DNSParseError) {
        guard count <= remaining else { throw .truncated(offset: offset) }
    }

    mutating func skip(_ count: Int) throws(DNSParseError) {
        try need(count)
        offset += count
    }

    mutating func readUInt8() throws(DNSParseError) -> UInt8 {
        try need(1)
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func readUInt16() throws(DNSParseError) -> UInt16 {
        try need(2)
        defer { offset += 2 }
        return UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
    }

    mutating func readUInt32() throws(DNSParseError) -> UInt32 {
        let high = try readUInt16()
        return UInt32(high) << 16 | UInt32(try readUInt16())
    }

    mutating func readBytes(_ count: Int) throws(DNSParseError) -> ArraySlice<UInt8> {
        try need(count)
        defer { offset += count }
        return bytes[offset..<offset + count]
    }

    /// Reads a possibly compressed name at `offset` and moves past it (RFC 1035 §4.1.4).
    mutating func readName() throws(DNSParseError) -> String {
        let (name, end) = try name(at: offset)
        offset = end
        return name
    }

    /// Decodes the name at `start`; returns it and the offset just past its in-place part.
    ///
    /// Termination does not rest on one check: pointers must go strictly backward and stay out of the
    /// 12-octet header, their number is bounded, and the decoded name may not pass 255 octets.
    func name(at start: Int) throws(DNSParseError) -> (name: String, end: Int) {
        var position = start
        var end: Int? = nil
        var pointers = 0
        var wireLength = 0
        var text: [UInt8] = []
        while true {
            guard position < bytes.count else { throw .truncated(offset: position) }
            let length = bytes[position]
            switch length & 0xC0 {
            case 0x00:
                wireLength += 1 + Int(length)
                guard wireLength <= 255 else { throw .nameTooLong(offset: start) }
                if length == 0 {
                    return (String(decoding: text, as: UTF8.self), end ?? position + 1)
                }
                let labelEnd = position + 1 + Int(length)
                guard labelEnd <= bytes.count else { throw .truncated(offset: position) }
                if !text.isEmpty { text.append(UInt8(ascii: ".")) }
                Self.appendLabel(bytes[(position + 1)..<labelEnd], to: &text)
                position = labelEnd
            case 0xC0:
                guard position + 1 < bytes.count else { throw .truncated(offset: position) }
                let target = Int(length & 0x3F) << 8 | Int(bytes[position + 1])
                guard target >= 12, target < bytes.count else {
                    throw .pointerOutOfRange(offset: position, target: target)
                }
                guard target < position else { throw .pointerNotBackward(offset: position, target: target) }
                pointers += 1
                guard pointers <= Self.maximumPointers else { throw .tooManyPointers(offset: start) }
                if end == nil { end = position + 2 }
                position = target
            default:
                throw .badLabelLength(offset: position, byte: length)
            }
        }
    }

    /// Appends a label lowercased (names compare case-insensitively, RFC 4343), with `\DDD` escapes.
    static func appendLabel(_ label: ArraySlice<UInt8>, to text: inout [UInt8]) {
        for byte in label {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"):
                text.append(byte + 32)
            case UInt8(ascii: "."), UInt8(ascii: "\\"), 0...0x20, 0x7F...0xFF:
                text.append(UInt8(ascii: "\\"))
                text.append(contentsOf: [byte / 100, byte / 10 % 10, byte % 10].map { $0 + UInt8(ascii: "0") })
            default:
                text.append(byte)
            }
        }
    }
}
