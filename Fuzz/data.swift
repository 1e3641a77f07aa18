// Fuzz target `data`: the DATA decoder (what quail-smtpd reads after 354) and the DATA encoder (what
// quail-remote sends), checked against each other.
//
// Input: one byte choosing the chunk size and `databytes`, then the bytes. Checks: the decoder's verdict and
// output do not depend on how the stream is split into reads; it never ends DATA anywhere but at CRLF . CRLF
// and never lets a CR into the spool; and every message the encoder sends decodes back to itself (LF line
// ends), ending exactly at the encoder's terminator: no smuggling in either direction.
import Glibc
@testable import QuailCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzData(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard size > 0, let data else { return 0 }
    let control = data[0]
    let bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    let chunk = Int(control & 0x1F) + 1
    let limit = control & 0x20 == 0 ? 0 : 64
    let whole = decode(bytes, chunk: bytes.count + 1, limit: limit)
    let pieces = decode(bytes, chunk: chunk, limit: limit)
    precondition(whole == pieces, "chunking changed the result: \(whole) vs \(pieces)")
    checkEnd(bytes, whole)
    roundTrip(bytes)
    return 0
}

struct Decoded: Equatable {
    var end: Int?
    var bareLineEnding = false
    var output: [UInt8] = []
    var messageBytes = 0
    var lineTooLong = false
    var tooBig = false
    var receivedLines = 0
}

/// Feeds `bytes` `chunk` at a time; `end` is the offset just past the terminator when one came.
func decode(_ bytes: [UInt8], chunk: Int, limit: Int) -> Decoded {
    var decoder = DataDecoder(byteLimit: limit)
    var result = Decoded()
    var offset = 0
    feeding: while offset < bytes.count {
        let piece = bytes[offset..<min(offset + chunk, bytes.count)]
        switch decoder.feed(piece) {
        case .needMore: offset += piece.count
        case .finished(let consumed):
            precondition(consumed >= 1 && consumed <= piece.count, "consumed \(consumed) of \(piece.count)")
            result.end = offset + consumed
            break feeding
        case .bareLineEnding:
            result.bareLineEnding = true
            break feeding
        }
        result.output += decoder.takeOutput()
    }
    result.output += decoder.takeOutput()
    result.messageBytes = decoder.messageBytes
    result.lineTooLong = decoder.lineTooLong
    result.tooBig = decoder.tooBig
    result.receivedLines = decoder.receivedLines
    precondition(!result.output.contains(0x0D), "a CR in the spooled message")
    precondition(limit == 0 || result.output.count <= limit, "output over databytes")
    return result
}

/// DATA ends only at CRLF . CRLF (or a lone . CRLF first), and nothing before it was a bare CR or LF.
func checkEnd(_ bytes: [UInt8], _ result: Decoded) {
    guard let end = result.end else { return }
    let stream = bytes[..<end]
    precondition(stream.elementsEqual([0x2E, 0x0D, 0x0A]) || stream.suffix(5).elementsEqual([0x0D, 0x0A, 0x2E, 0x0D, 0x0A]),
                 "DATA ended at \(end) without CRLF . CRLF")
    for (index, byte) in stream.enumerated() where byte == 0x0D || byte == 0x0A {
        let paired = byte == 0x0D ? index + 1 < end && bytes[index + 1] == 0x0A : index > 0 && bytes[index - 1] == 0x0D
        precondition(paired, "DATA accepted a bare CR or LF at \(index)")
    }
}

/// The encoder's output has only CRLF line ends, decodes to the message with LF line ends, and the
/// decoder finds its end exactly at the encoder's terminator.
func roundTrip(_ message: [UInt8]) {
    let wire = DataEncoder.encode(message)
    for (index, byte) in wire.enumerated() where byte == 0x0D || byte == 0x0A {
        let paired = byte == 0x0D ? index + 1 < wire.count && wire[index + 1] == 0x0A : index > 0 && wire[index - 1] == 0x0D
        precondition(paired, "the encoder sent a bare CR or LF at \(index)")
    }
    let decoded = decode(wire, chunk: wire.count + 1, limit: 0)
    precondition(decoded.end == wire.count, "the encoded message ended at \(String(describing: decoded.end)) of \(wire.count)")
    precondition(decoded.output == normalized(message), "the encoded message did not decode to itself")
}

/// The message as a receiving server keeps it: CRLF, bare CR and bare LF each one LF, and a final LF.
func normalized(_ message: [UInt8]) -> [UInt8] {
    var result: [UInt8] = []
    var index = 0
    while index < message.count {
        let byte = message[index]
        index += 1
        if byte == 0x0D || byte == 0x0A {
            if byte == 0x0D, index < message.count, message[index] == 0x0A { index += 1 }
            result.append(0x0A)
        } else {
            result.append(byte)
        }
    }
    if let last = result.last, last != 0x0A { result.append(0x0A) }
    return result
}
