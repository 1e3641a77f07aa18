import Testing

@testable import QuailCore

/// Crafted messages: each must end in a thrown error, never a trap, a hang or a huge allocation.
@Suite struct DNSMessageHostileTests {
    /// A response whose single answer's owner name is `owner`, written at offset 28 (after the question).
    static func answer(owner: [UInt8]) -> [UInt8] {
        var packet = DNSPacket(answers: 1)
        packet.question("x.test", .a)  // offsets 12…19, QTYPE and QCLASS to 23
        packet.bytes += owner
        packet.recordHeader(.a, length: 4)
        packet.bytes += [1, 2, 3, 4]
        return packet.bytes
    }

    func expectError(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) -> DNSParseError? {
        do {
            let response = try DNSMessage.parse(bytes)
            Issue.record("parsed: \(response)", sourceLocation: sourceLocation)
            return nil
        } catch {
            return error
        }
    }

    @Test func emptyAndShortHeaders() {
        #expect(expectError([]) == .truncated(offset: 0))
        #expect(expectError([0x12, 0x34, 0x81, 0x80, 0, 1, 0]) != nil)
    }

    @Test func pointerToItself() {
        // The owner name is at offset 24; a pointer there pointing to 24.
        #expect(expectError(Self.answer(owner: [0xC0, 24])) == .pointerNotBackward(offset: 24, target: 24))
    }

    @Test func twoPointersPointingAtEachOther() {
        // Name at 24 is a pointer to 26, which is a pointer back to 24: the forward one is refused.
        var packet = DNSPacket(answers: 1)
        packet.question("x.test", .a)
        packet.bytes += [0xC0, 26, 0xC0, 24]
        #expect(expectError(packet.bytes) == .pointerNotBackward(offset: 24, target: 26))
    }

    @Test func backwardLoopThroughALabelEnds() {
        // At 24 the label "a", then at 26 a pointer back to 24: backward each time, but endless.
        #expect(expectError(Self.answer(owner: [1, UInt8(ascii: "a"), 0xC0, 24])) == .tooManyPointers(offset: 24))
    }

    @Test(arguments: [16, 17])
    func pointerChainsAreBounded(length: Int) throws {
        // Each pointer points at the one before it, the first at the question's name: backward, but absurd.
        var packet = DNSPacket(answers: 1)
        packet.question("x.test", .a)
        packet.pointer(12)
        for _ in 1..<length { packet.pointer(packet.offset - 2) }
        let reader = DNSReader(packet.bytes)
        if length <= DNSReader.maximumPointers {
            #expect(try reader.name(at: packet.offset - 2).name == "x.test")
        } else {
            #expect(throws: DNSParseError.tooManyPointers(offset: packet.offset - 2)) {
                try reader.name(at: packet.offset - 2)
            }
        }
    }

    @Test func pointersOutOfRange() {
        #expect(expectError(Self.answer(owner: [0xC0, 0xFF])) == .pointerOutOfRange(offset: 24, target: 255))
        #expect(expectError(Self.answer(owner: [0xFF, 0xFF])) == .pointerOutOfRange(offset: 24, target: 0x3FFF))
        // Into the header, where no name can be.
        #expect(expectError(Self.answer(owner: [0xC0, 2])) == .pointerOutOfRange(offset: 24, target: 2))
        // A pointer whose second octet is missing.
        var packet = DNSPacket(answers: 1)
        packet.question("x.test", .a)
        packet.bytes.append(0xC0)
        #expect(expectError(packet.bytes) != nil)
    }

    @Test(arguments: [UInt8(64), 0x7F, 0x80, 0xBF])
    func labelLengthsOver63AreRefused(_ length: UInt8) {
        let owner = [length] + Array(repeating: UInt8(ascii: "a"), count: Int(length & 0x3F) + 64) + [0]
        #expect(expectError(Self.answer(owner: owner)) == .badLabelLength(offset: 24, byte: length))
    }

    @Test func namesOver255OctetsAreRefused() {
        // Four 63-octet labels: 4 × 64 + 1 = 257 octets in wire form.
        let label = [UInt8(63)] + Array(repeating: UInt8(ascii: "b"), count: 63)
        #expect(expectError(Self.answer(owner: label + label + label + label + [0])) == .nameTooLong(offset: 24))
        // The same length reached through compression: 3 labels in the question, 1 more plus a pointer.
        var packet = DNSPacket(answers: 1)
        packet.bytes += label + label + label + [0, 0, 1, 0, 1]
        let owner = packet.offset
        packet.bytes += label + [0xC0, 12]
        packet.recordHeader(.a, length: 4)
        packet.bytes += [1, 2, 3, 4]
        #expect(expectError(packet.bytes) == .nameTooLong(offset: owner))
    }

    @Test func truncatedRecords() {
        var packet = DNSPacket(answers: 1)
        packet.question("x.test", .a)
        packet.pointer(12)
        packet.recordHeader(.a, length: 4)
        let whole = packet.bytes + [1, 2, 3, 4]
        #expect(throws: Never.self) { try DNSMessage.parse(whole) }
        // Cut anywhere inside the record (and the question), and the parse fails.
        for end in 12..<whole.count { #expect(expectError(Array(whole.prefix(end))) != nil) }
        // RDLENGTH beyond the end of the message.
        var long = DNSPacket(answers: 1)
        long.question("x.test", .mx)
        long.pointer(12)
        long.recordHeader(.mx, length: 200)
        long.bytes += [0, 10, 0]
        #expect(expectError(long.bytes) == .truncated(offset: 36))
    }

    @Test func rdataMustMatchItsType() {
        for (type, rdata) in [
            (DNSType.a, [UInt8]([1, 2, 3])), (.aaaa, [UInt8](repeating: 0, count: 4)), (.mx, [0, 1]),
            (.mx, [0, 1, 0, 9]),
        ] {
            var packet = DNSPacket(answers: 1)
            packet.question("x.test", type)
            packet.pointer(12)
            packet.recordHeader(type, length: rdata.count)
            packet.bytes += rdata + [0, 0, 0, 0]  // more octets after, so only RDLENGTH can catch it
            #expect(expectError(packet.bytes) == .badRecordData(offset: 36, type: type), "\(type)")
        }
        // An MX exchange name that runs past RDLENGTH into the next octets.
        var packet = DNSPacket(answers: 1)
        packet.question("x.test", .mx)
        packet.pointer(12)
        packet.recordHeader(.mx, length: 4)
        packet.bytes += [0, 10, 3, UInt8(ascii: "a"), UInt8(ascii: "b"), UInt8(ascii: "c"), 0]
        #expect(expectError(packet.bytes) == .badRecordData(offset: 36, type: .mx))
    }

    @Test func absurdCountsAreRefusedBeforeAnyWork() {
        var packet = DNSPacket(answers: 65535)
        packet.question("x.test", .a)
        packet.bytes += Array(repeating: 0, count: 40 - packet.offset)
        #expect(packet.bytes.count == 40)
        #expect(expectError(packet.bytes) == .countsExceedMessage)
        #expect(expectError(DNSPacket(questions: 65535).bytes) == .countsExceedMessage)
        #expect(expectError(DNSPacket(questions: 1, authority: 65535).bytes) == .countsExceedMessage)
    }

    @Test func randomGarbageNeverTraps() {
        var generator = SystemRandomNumberGenerator()
        var seedPacket = DNSPacket(answers: 2)
        seedPacket.question("partner.test", .mx)
        seedPacket.pointer(12)
        seedPacket.record(.mx) {
            $0.u16(10); $0.name("mx1", pointer: 12)
        }
        seedPacket.pointer(12)
        seedPacket.record(.a) { $0.bytes += [1, 2, 3, 4] }
        for _ in 0..<20_000 {
            var bytes = seedPacket.bytes
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            }
            if Bool.random(using: &generator) { bytes.removeLast(Int.random(in: 0..<bytes.count, using: &generator)) }
            _ = try? DNSMessage.parse(bytes)
        }
    }
}
