import Glibc
import Testing

@testable import QuailCore

/// quail-send's start-up reads one state record per queued message (a million of them in docs/BENCHMARKS.md, P4):
/// the byte-level decoder, the shared strings and the one-buffer loader must read exactly what the old
/// String-splitting parser read.
@Suite struct StateLoadingTests {
    static let sample: MessageState = {
        var state = MessageState(birth: 1_700_000_000, bytes: 4165, offset: 40,
                                 envelope: Envelope(sender: "sender@example.org", recipients: ["a b@c.test", "ü%@d.test", "user@partner.test"]))
        state.recipients[0].status = .delivered
        state.recipients[1].attempts = 3
        state.recipients[1].nextAttempt = 1_700_003_600
        state.recipients[1].lastError = "451 try later\nsecond line 100%"
        state.recipients[1].remoteHost = "mx.d.test"
        state.recipients[1].lastAttempt = 1_700_000_600
        state.recipients[2].status = .failed
        state.held = true
        return state
    }()

    @Test func decodesWhatItEncodes() {
        #expect(MessageState(decoding: Self.sample.encoded) == Self.sample)
        let withStrings = Self.sample.encoded.withUnsafeBufferPointer { MessageState(decoding: $0, strings: StringInterner()) }
        #expect(withStrings == Self.sample)
    }

    /// Every record the old parser accepted is accepted with the same content, and every one it refused is refused:
    /// checked on the sample, on records of older versions (six and seven `rcpt` fields) and on every one-byte change
    /// and truncation of them.
    @Test func agreesWithTheStringParserOnMutations() {
        let older = Array("quail-state 1\nbirth 5\nbytes 10\noffset 3\nheld 0\nsender %\nrcpt pending 0 5 x@y.test %\n".utf8)
        let seven = Array("quail-state 1\n\nbirth 5\nbytes 10\noffset 3\nsender s@t.test\nextra 7\nrcpt failed 2 9 x@y.test e%20f mx\n".utf8)
        var inputs = [Self.sample.encoded, older, seven]
        // No sign characters: the old parser read "%-0" and "%+F" as escapes (UInt8("+F", radix: 16) is 15), the new
        // one refuses them; the encoder never writes either.
        let replacements = Array(" \n%09axF".utf8)
        for base in [older, seven] {
            for index in base.indices {
                inputs.append(Array(base[..<index]))
                for byte in replacements where byte != base[index] {
                    var changed = base
                    changed[index] = byte
                    inputs.append(changed)
                }
            }
        }
        var accepted = 0
        for input in inputs {
            let expected = ReferenceStateParser.decode(input)
            #expect(MessageState(decoding: input) == expected, "\(String(decoding: input, as: UTF8.self).debugDescription)")
            if expected != nil { accepted += 1 }
        }
        #expect(accepted > 50)  // the mutations do exercise the accepting paths, not only refusals
    }

    @Test(arguments: ["+5", "-5", "0005", "9223372036854775807", "-9223372036854775808", "9223372036854775808", "", "+", "5x", " 5"])
    func integersFollowIntsGrammar(_ text: String) {
        let record = Array("quail-state 1\nbirth \(text)\nbytes 1\noffset 1\nsender %\nrcpt pending 0 0 a %\n".utf8)
        #expect(MessageState(decoding: record)?.birth == Int(text))
    }

    @Test func sharesEqualStringsBetweenRecords() {
        let strings = StringInterner()
        var first = Self.sample
        first.recipients[1].lastError = "could not reach any mail exchanger for partner.test (#4.4.1)"
        let a = first.encoded.withUnsafeBufferPointer { MessageState(decoding: $0, strings: strings) }!
        let b = first.encoded.withUnsafeBufferPointer { MessageState(decoding: $0, strings: strings) }!
        #expect(a == b)
        #expect(storage(a.recipients[1].lastError) == storage(b.recipients[1].lastError))
        #expect(storage(a.sender) == storage(b.sender))
        #expect(storage(a.recipients[2].address) == storage(b.recipients[2].address))
        // Short strings live inline in the String value and are not kept.
        #expect(strings.intern("short") == "short")
        #expect(strings.count == 3)  // the sender, the error and the one address longer than 15 bytes
    }

    @Test func loaderReadsLargeRecordsAndFallsBackToTheEnvelope() throws {
        let queue = try makeScratchDirectory() + "/queue"
        let layout = QueueLayout(root: queue)
        try layout.create()
        let store = QueueStore(layout: layout)
        // A record far larger than the loader's first buffer.
        var large = MessageState(birth: 10, bytes: 100, offset: 20,
                                 envelope: Envelope(sender: "s@t.test", recipients: (0..<500).map { "recipient-\($0)@example.test" }))
        large.recipients[499].lastError = String(repeating: "x", count: 5000)
        try store.save(46, large)
        // One with a damaged record and one without a record: both are read from their spool file's envelope.
        let envelope = Envelope(sender: "s@t.test", recipients: ["r@u.test"])
        for id: QueueID in [47, 48] {
            writeFile(layout.messPath(id), String(decoding: envelope.encoded + Array("Subject: x\n\nbody\n".utf8), as: UTF8.self))
        }
        writeFile(layout.statePath(47), "quail-state 1\nbirth oops\n")
        let loader = StateLoader()
        #expect(try store.load(46, path: layout.messPath(46), with: loader) == large)
        for id: QueueID in [47, 48] {
            let state = try store.load(id, path: layout.messPath(id), with: loader)
            #expect(state?.recipients.map(\.address) == ["r@u.test"] && state?.offset == envelope.encoded.count)
            #expect(try store.load(id, path: layout.messPath(id)) == state)
        }
        #expect(try store.load(49, path: layout.messPath(49), with: loader) == nil)  // no message at all
    }

    @Test(arguments: [0, 7, 10, 1_234_567_890, UInt64.max])
    func recordNamesAreDecimalIDs(_ id: QueueID) {
        #expect(StateLoader.decimalName(of: id) { String(cString: $0) } == "\(id)")
    }

    @Test func orphanStatesGoByTheMessListing() throws {
        let queue = try makeScratchDirectory() + "/queue"
        let layout = QueueLayout(root: queue)
        try layout.create()
        let store = QueueStore(layout: layout)
        let state = MessageState(birth: 1, bytes: 1, offset: 1, envelope: Envelope(sender: "", recipients: ["r@u.test"]))
        for id: QueueID in [23, 46, 69] { try store.save(id, state) }  // all in bucket 0
        writeFile(layout.messPath(46), "x")
        writeFile(layout.stateDirectory(0) + "/.new.12345", "scratch")
        let records = try store.stateRecords(bucket: 0)
        #expect(records.scratch == [".new.12345"] && Set(records.nextWork.keys) == [23, 46, 69])
        #expect(try store.removeOrphanStates(bucket: 0, records: records, takenIn: Set(store.messIDs(bucket: 0))) == 2)
        #expect(try FileIO.listDirectory(layout.stateDirectory(0)) == ["46"])
    }

    /// A saved record's mtime is when its message next has work, which is all start-up reads of it before the loop
    /// reads the record itself, earliest first.
    @Test func savedRecordsCarryTheirNextWorkAsMtime() throws {
        let queue = try makeScratchDirectory() + "/queue"
        let layout = QueueLayout(root: queue)
        try layout.create()
        let store = QueueStore(layout: layout)
        var state = MessageState(birth: 1, bytes: 1, offset: 1, envelope: Envelope(sender: "", recipients: ["a@u.test", "b@u.test", "c@u.test"]))
        state.recipients[0].status = .delivered
        state.recipients[0].nextAttempt = 100
        state.recipients[1].nextAttempt = 2_000_000_000
        state.recipients[2].nextAttempt = 1_900_000_000
        try store.save(23, state)
        state.held = true
        try store.save(46, state)
        state.held = false
        state.recipients[1].status = .failed  // its bounce is owed now
        try store.save(69, state)
        let now = MailDate.now()
        let times = try store.stateRecords(bucket: 0).nextWork
        #expect(times[23] == 1_900_000_000)
        #expect(times[46] == MessageState.heldUntil)
        #expect(times[69].map { abs($0 - now) <= 2 } == true)
    }

    /// A record's mtime is in the future, so under relatime every plain read would update its atime and write the
    /// inode back; quail reads records with O_NOATIME, at start-up and in the queue tools.
    @Test func readingARecordLeavesItsAccessTimeAlone() throws {
        let queue = try makeScratchDirectory() + "/queue"
        let layout = QueueLayout(root: queue)
        try layout.create()
        let store = QueueStore(layout: layout)
        var state = MessageState(birth: 1, bytes: 1, offset: 1, envelope: Envelope(sender: "", recipients: ["r@u.test"]))
        state.recipients[0].nextAttempt = 2_000_000_000
        try store.save(23, state)
        let fd = try FileIO.open(layout.statePath(23), O_RDONLY)
        let times = [timespec(tv_sec: 1_000_000, tv_nsec: 0), timespec(tv_sec: 2_000_000_000, tv_nsec: 0)]
        #expect(futimens(fd, times) == 0)
        close(fd)
        #expect(store.state(23) == state)
        #expect(StateLoader().read(23, in: layout) == state)
        #expect(try FileIO.status(layout.statePath(23))?.st_atim.tv_sec == 1_000_000)
    }

    @Test func timerHeapWithReservedRoomKeepsItsOrder() {
        var heap = TimerHeap()
        heap.reserveCapacity(1000)
        for id in (0..<1000).reversed() { heap.push(id % 10, QueueID(id)) }
        var dues: [Int] = []
        while heap.nextDue != nil, let id = heap.popDue(100) { dues.append(Int(id) % 10) }
        #expect(dues == dues.sorted() && dues.count == 1000)
    }

    private func storage(_ text: String) -> UnsafePointer<UInt8>? {
        text.utf8.withContiguousStorageIfAvailable { $0.baseAddress } ?? nil
    }
}

/// The state parser as it was before the byte-level decoder, kept as the reference the new one must agree with.
private enum ReferenceStateParser {
    static func decode(_ bytes: [UInt8]) -> MessageState? {
        let lines = bytes.split(separator: 0x0A).map { String(decoding: $0, as: UTF8.self) }
        guard lines.first == "quail-state 1" else { return nil }
        var fields: [String: String] = [:]
        var recipients: [MessageState.Recipient] = []
        for line in lines.dropFirst() {
            let parts = line.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
            if parts.first == "rcpt" {
                guard (6...8).contains(parts.count), let status = MessageState.Status(rawValue: parts[1]), let attempts = Int(parts[2]),
                    let next = Int(parts[3]), let address = unescape(parts[4]), let error = unescape(parts[5]),
                    let host = parts.count >= 7 ? unescape(parts[6]) : "",
                    let lastAttempt = parts.count == 8 ? Int(parts[7]) : 0
                else { return nil }
                recipients.append(MessageState.Recipient(address: address, status: status, attempts: attempts, nextAttempt: next,
                                                         lastError: error, remoteHost: host, lastAttempt: lastAttempt))
            } else if parts.count == 2 {
                fields[parts[0]] = parts[1]
            } else {
                return nil
            }
        }
        guard let birth = fields["birth"].flatMap({ Int($0) }), let size = fields["bytes"].flatMap({ Int($0) }),
            let offset = fields["offset"].flatMap({ Int($0) }), let sender = fields["sender"].flatMap(unescape),
            !recipients.isEmpty
        else { return nil }
        var state = MessageState(birth: birth, bytes: size, offset: offset, envelope: Envelope(sender: sender, recipients: []))
        state.held = fields["held"] == "1"
        state.recipients = recipients
        return state
    }

    static func unescape(_ value: String) -> String? {
        if value == "%" { return "" }
        var bytes: [UInt8] = []
        var iterator = Array(value.utf8).makeIterator()
        while let byte = iterator.next() {
            guard byte == 0x25 else { bytes.append(byte); continue }
            guard let high = iterator.next(), let low = iterator.next(),
                let decoded = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16)
            else { return nil }
            bytes.append(decoded)
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
