@testable import QuailCore

/// Builds DNS messages octet by octet, so tests can write both honest and hostile ones.
struct DNSPacket {
    var bytes: [UInt8] = []

    /// A response header: QR and RD, RA set, with `flags` or-ed in and the given counts.
    init(
        id: UInt16 = 0x1234, flags: UInt16 = 0x8180, questions: Int = 1, answers: Int = 0, authority: Int = 0,
        additional: Int = 0
    ) {
        u16(id)
        u16(flags)
        for count in [questions, answers, authority, additional] { u16(UInt16(count)) }
    }

    var offset: Int { bytes.count }

    mutating func u16(_ value: UInt16) { bytes += [UInt8(value >> 8), UInt8(value & 0xFF)] }
    mutating func u32(_ value: UInt32) { u16(UInt16(value >> 16)); u16(UInt16(value & 0xFFFF)) }

    /// An uncompressed name; `pointer` replaces the root label with a compression pointer.
    mutating func name(_ text: String, pointer: Int? = nil) {
        for label in text.split(separator: ".") {
            bytes.append(UInt8(label.utf8.count))
            bytes += label.utf8
        }
        if let pointer { self.pointer(pointer) } else { bytes.append(0) }
    }

    mutating func pointer(_ target: Int) { u16(0xC000 | UInt16(target)) }

    /// QTYPE and QCLASS IN after a name.
    mutating func question(_ name: String, _ type: DNSType) {
        self.name(name)
        u16(type.rawValue)
        u16(1)
    }

    /// TYPE, CLASS IN, TTL and RDLENGTH after an owner name already written; returns where RDLENGTH is.
    @discardableResult
    mutating func recordHeader(_ type: DNSType, length: Int, ttl: UInt32 = 300, recordClass: UInt16 = 1) -> Int {
        u16(type.rawValue)
        u16(recordClass)
        u32(ttl)
        let at = offset
        u16(UInt16(length))
        return at
    }

    /// Writes RDATA with `body`, then fixes RDLENGTH to what it wrote.
    mutating func record(_ type: DNSType, ttl: UInt32 = 300, recordClass: UInt16 = 1, _ body: (inout DNSPacket) -> Void)
    {
        let at = recordHeader(type, length: 0, ttl: ttl, recordClass: recordClass)
        let start = offset
        body(&self)
        let length = offset - start
        bytes[at] = UInt8(length >> 8)
        bytes[at + 1] = UInt8(length & 0xFF)
    }
}
