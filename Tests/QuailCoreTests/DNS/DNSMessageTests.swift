import Testing

@testable import QuailCore

@Suite struct DNSMessageTests {
    @Test func mxAnswerWithCompression() throws {
        var packet = DNSPacket(answers: 2)
        packet.question("Partner.TEST", .mx)  // the name sits at offset 12
        packet.pointer(12)
        packet.record(.mx) {
            $0.u16(10); $0.name("mx1", pointer: 12)
        }
        packet.pointer(12)
        packet.record(.mx, ttl: 0x8000_0001) {
            $0.u16(20); $0.name("mx2", pointer: 12)
        }
        let response = try DNSMessage.parse(packet.bytes)
        #expect(
            response.id == 0x1234 && response.isResponse && !response.isTruncated && response.responseCode == .noError)
        #expect(response.questions == [DNSQuestion(name: "partner.test", type: .mx, recordClass: 1)])
        #expect(
            response.answers.map(\.data) == [
                .mx(preference: 10, exchange: "mx1.partner.test"), .mx(preference: 20, exchange: "mx2.partner.test"),
            ])
        #expect(response.answers.allSatisfy { $0.name == "partner.test" })
        #expect(response.answers.map(\.ttl) == [300, 0])  // RFC 2181 §8: a TTL with the top bit set is zero
    }

    @Test func addressRecords() throws {
        var packet = DNSPacket(answers: 2)
        packet.question("host.test", .a)
        packet.pointer(12)
        packet.record(.a) { $0.bytes += [192, 0, 2, 7] }
        packet.pointer(12)
        packet.record(.aaaa) { $0.bytes += [0x20, 0x01, 0x0d, 0xb8] + Array(repeating: 0, count: 11) + [1] }
        let response = try DNSMessage.parse(packet.bytes)
        #expect(response.answers.map(\.data) == [.a("192.0.2.7"), .aaaa("2001:db8::1")])
    }

    @Test func cnameThenAddress() throws {
        var packet = DNSPacket(answers: 2)
        packet.question("alias.test", .a)
        packet.pointer(12)
        let target = packet.offset + 10
        packet.record(.cname) { $0.name("real", pointer: 18) }  // "real" + ".test" of the question
        packet.pointer(target)
        packet.record(.a) { $0.bytes += [127, 0, 0, 2] }
        let response = try DNSMessage.parse(packet.bytes)
        #expect(
            response.answers == [
                DNSRecord(name: "alias.test", ttl: 300, data: .cname("real.test")),
                DNSRecord(name: "real.test", ttl: 300, data: .a("127.0.0.2")),
            ])
    }

    @Test func unknownTypesAndClassesAreSkippedByLength() throws {
        var packet = DNSPacket(answers: 3, authority: 1, additional: 5)
        packet.question("x.test", .mx)
        packet.pointer(12)
        packet.record(DNSType(rawValue: 13)) { $0.bytes += [3] + Array("cpu".utf8) + [2] + Array("os".utf8) }  // HINFO
        packet.pointer(12)
        packet.record(.a, recordClass: 3) { $0.bytes += [1, 2, 3, 4] }  // CHAOS class: not ours
        packet.pointer(12)
        packet.record(.mx) {
            $0.u16(0); $0.bytes.append(0)
        }
        packet.pointer(12)
        packet.record(.soa) { $0.bytes += Array(repeating: 0, count: 22) }
        packet.bytes += [0xFF, 0xFF]  // additional section: never read
        let response = try DNSMessage.parse(packet.bytes)
        #expect(response.answers.map(\.data) == [.mx(preference: 0, exchange: "")])
        #expect(response.authority.isEmpty)
    }

    /// RFC 1035 §3.3.14: TXT is one or more length-prefixed strings (MTA-STS reads `_mta-sts` records); a string
    /// that runs past RDLENGTH is malformed.
    @Test func txtRecordsAreStringsUpToTheirLength() throws {
        var packet = DNSPacket(answers: 1)
        packet.question("_mta-sts.x.test", .txt)
        packet.pointer(12)
        packet.record(.txt) { $0.bytes += [9] + Array("v=STSv1; ".utf8) + [4] + Array("id=1".utf8) }
        let response = try DNSMessage.parse(packet.bytes)
        #expect(response.answers.map(\.data) == [.txt([Array("v=STSv1; ".utf8), Array("id=1".utf8)])])

        var broken = DNSPacket(answers: 1)
        broken.question("_mta-sts.x.test", .txt)
        broken.pointer(12)
        broken.record(.txt) { $0.bytes += [9] + Array("v=STSv1".utf8) }
        #expect(throws: DNSParseError.self) { try DNSMessage.parse(broken.bytes) }
    }

    @Test(arguments: [(UInt16(0x8183), DNSResponseCode.nameError), (0x8182, .serverFailure), (0x8185, .refused)])
    func responseCodes(flags: UInt16, code: DNSResponseCode) throws {
        var packet = DNSPacket(flags: flags)
        packet.question("nope.test", .mx)
        let response = try DNSMessage.parse(packet.bytes)
        #expect(response.responseCode == code)
        #expect(response.answers.isEmpty)
    }

    @Test func truncatedAnswerKeepsTheQuestionAndDropsTheRecords() throws {
        // TC set, and the answer count promises a record that was cut off: that is what TC means.
        var packet = DNSPacket(flags: 0x8380, answers: 40)
        packet.question("big.test", .mx)
        packet.pointer(12)
        packet.bytes += [0, 15, 0]
        let response = try DNSMessage.parse(packet.bytes)
        #expect(response.isTruncated)
        #expect(response.questions.first?.name == "big.test")
        #expect(response.answers.isEmpty)
    }

    @Test func oddBytesInLabelsAreEscaped() throws {
        var packet = DNSPacket(answers: 1)
        packet.question("x.test", .cname)
        packet.pointer(12)
        packet.record(.cname) { $0.bytes += [3, UInt8(ascii: "a"), UInt8(ascii: "."), 0x0A, 0] }
        let response = try DNSMessage.parse(packet.bytes)
        #expect(response.answers.first?.data == .cname("a\\046\\010"))
    }
}
