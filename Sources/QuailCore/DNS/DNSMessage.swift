/// The DNS wire format (RFC 1035 §4): the single entry point that turns untrusted bytes into a response.
public enum DNSMessage {
    /// Smallest question: the root name (1 octet), QTYPE and QCLASS (RFC 1035 §4.1.2).
    static let minimumQuestionSize = 5
    /// Smallest record: the root name, TYPE, CLASS, TTL and RDLENGTH (RFC 1035 §4.1.3).
    static let minimumRecordSize = 11
    static let classIN: UInt16 = 1

    /// Parses a response; any malformation is a thrown error, and nothing is allocated from unchecked counts.
    ///
    /// The additional section is not read: quail never trusts glue it did not ask for.
    public static func parse(_ bytes: [UInt8]) throws(DNSParseError) -> DNSResponse {
        var reader = DNSReader(bytes)
        // RFC 1035 §4.1.1: the header is 12 octets.
        let id = try reader.readUInt16()
        let flags = try reader.readUInt16()
        let questionCount = Int(try reader.readUInt16())
        let answerCount = Int(try reader.readUInt16())
        let authorityCount = Int(try reader.readUInt16())
        _ = try reader.readUInt16()
        var response = DNSResponse(
            id: id, isResponse: flags & 0x8000 != 0, opcode: UInt8(flags >> 11 & 0x0F),
            isAuthoritative: flags & 0x0400 != 0, isTruncated: flags & 0x0200 != 0,
            responseCode: DNSResponseCode(rawValue: UInt8(flags & 0x000F)))
        // Every entry takes at least a few octets, so counts that cannot fit are refused up front:
        // an ANCOUNT of 65535 in a 40-octet message costs nothing.
        let counted = response.isTruncated ? 0 : answerCount + authorityCount
        guard questionCount * minimumQuestionSize + counted * minimumRecordSize <= reader.remaining else {
            throw .countsExceedMessage
        }
        for _ in 0..<questionCount {
            let name = try reader.readName()
            let type = DNSType(rawValue: try reader.readUInt16())
            response.questions.append(DNSQuestion(name: name, type: type, recordClass: try reader.readUInt16()))
        }
        // RFC 2181 §9: the records of a truncated message are not to be used; the caller retries over TCP.
        guard !response.isTruncated else { return response }
        response.answers = try readRecords(answerCount, from: &reader)
        response.authority = try readRecords(authorityCount, from: &reader)
        return response
    }

    /// Reads `count` resource records, keeping the IN records of types in `DNSRecordData`.
    static func readRecords(_ count: Int, from reader: inout DNSReader) throws(DNSParseError) -> [DNSRecord] {
        var records: [DNSRecord] = []
        for _ in 0..<count {
            let name = try reader.readName()
            let type = DNSType(rawValue: try reader.readUInt16())
            let recordClass = try reader.readUInt16()
            let ttl = try reader.readUInt32()
            let length = Int(try reader.readUInt16())
            let start = reader.offset
            try reader.need(length)
            defer { reader.offset = start + length }
            guard recordClass == classIN, let data = try readData(type, from: reader, length: length) else { continue }
            // RFC 2181 §8: a TTL with the top bit set is to be treated as zero.
            records.append(DNSRecord(name: name, ttl: ttl & 0x8000_0000 == 0 ? ttl : 0, data: data))
        }
        return records
    }

    /// Parses one RDATA of `length` octets at `reader.offset`; `nil` for types quail skips.
    static func readData(_ type: DNSType, from start: DNSReader, length: Int) throws(DNSParseError) -> DNSRecordData? {
        var reader = start
        let end = reader.offset + length
        let data: DNSRecordData
        switch type {
        case .a:
            guard length == 4 else { throw .badRecordData(offset: start.offset, type: type) }
            data = .a(DNSAddress.text(try reader.readBytes(4)))
        case .aaaa:
            guard length == 16 else { throw .badRecordData(offset: start.offset, type: type) }
            data = .aaaa(DNSAddress.text(try reader.readBytes(16)))
        case .mx:
            // RFC 1035 §3.3.9: PREFERENCE then EXCHANGE, which must end exactly at RDLENGTH.
            guard length >= 3 else { throw .badRecordData(offset: start.offset, type: type) }
            let preference = try reader.readUInt16()
            data = .mx(preference: preference, exchange: try reader.readName())
        case .cname:
            data = .cname(try reader.readName())
        case .txt:
            // Length-prefixed strings up to RDLENGTH; one that runs past it is malformed.
            var strings: [[UInt8]] = []
            while reader.offset < end {
                let count = Int(try reader.readUInt8())
                guard reader.offset + count <= end else { throw .badRecordData(offset: start.offset, type: type) }
                strings.append(Array(try reader.readBytes(count)))
            }
            data = .txt(strings)
        default:
            return nil
        }
        guard reader.offset == end else { throw .badRecordData(offset: start.offset, type: type) }
        return data
    }
}
