// Fuzz target `envelope`: qmail-queue's envelope (`Fsender\0Trecip\0...\0`) as quail-queue reads it on fd 1
// and as the spool stores it. Whatever parses must survive its own encoding unchanged, or a message
// quail-queue accepted could not be read back from the spool.
@testable import QuailCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzEnvelope(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let envelope = try? Envelope.parse(bytes) {
        check(envelope)
        precondition((try? Envelope.parsePrefix(bytes))??.1 == bytes.count, "parse and parsePrefix disagree")
    }
    if let (envelope, length) = (try? Envelope.parsePrefix(bytes)) ?? nil {
        precondition(length >= 5 && length <= bytes.count && bytes[length - 1] == 0, "prefix length \(length)")
        precondition((try? Envelope.parse(bytes[..<length])) == envelope, "the prefix does not parse on its own")
        check(envelope)
    }
    return 0
}

func check(_ envelope: Envelope) {
    precondition(!envelope.recipients.isEmpty, "an envelope without recipients")
    let encoded = envelope.encoded
    let again: Envelope
    do { again = try Envelope.parse(encoded) } catch {
        preconditionFailure("an accepted envelope does not parse once encoded: \(error)")
    }
    precondition(again == envelope, "an envelope changed through its encoding")
}
