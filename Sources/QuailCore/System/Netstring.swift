/// djb's netstrings (`12:hello world!,`): a length, a colon, the bytes, a comma. Any byte may be inside, so
/// addresses with spaces or quotes and control files with any text travel whole; a reader knows how much to
/// wait for before it parses anything.
public enum Netstring {
    /// Why bytes are not a netstring.
    public struct Malformed: Error, Sendable, Equatable, CustomStringConvertible {
        public var reason: String
        public var description: String { "malformed netstring: \(reason)" }
    }

    /// The largest payload accepted: a whole control directory fits many times over.
    public static let maximumLength = 1 << 28

    /// `bytes` as one netstring.
    public static func encode(_ bytes: some Collection<UInt8>) -> [UInt8] {
        Array("\(bytes.count):".utf8) + bytes + [UInt8(ascii: ",")]
    }

    /// Several fields, each a netstring, inside one netstring: one frame of the worker protocol.
    public static func encode(fields: [[UInt8]]) -> [UInt8] {
        encode(fields.flatMap { encode($0) })
    }

    /// The first netstring at the start of `bytes` and how many bytes it took; nil when it is not complete yet.
    public static func decode(_ bytes: ArraySlice<UInt8>) throws(Malformed) -> (payload: ArraySlice<UInt8>, consumed: Int)? {
        var length = 0
        var index = bytes.startIndex
        while true {
            guard index < bytes.endIndex else { return nil }
            let byte = bytes[index]
            if byte == UInt8(ascii: ":") { break }
            guard (0x30...0x39).contains(byte), index - bytes.startIndex < 10 else { throw Malformed(reason: "bad length") }
            length = length * 10 + Int(byte - 0x30)
            index += 1
        }
        guard index > bytes.startIndex, length <= maximumLength else { throw Malformed(reason: "bad length") }
        let start = index + 1
        guard bytes.endIndex - start > length else { return nil }
        guard bytes[start + length] == UInt8(ascii: ",") else { throw Malformed(reason: "no comma after \(length) bytes") }
        return (bytes[start..<(start + length)], start + length + 1 - bytes.startIndex)
    }

    /// The fields of a frame's payload: netstrings one after another, nothing else.
    public static func fields(of payload: ArraySlice<UInt8>) throws(Malformed) -> [[UInt8]] {
        var rest = payload
        var result: [[UInt8]] = []
        while !rest.isEmpty {
            guard let (field, consumed) = try decode(rest) else { throw Malformed(reason: "a field is cut short") }
            result.append(Array(field))
            rest = rest.dropFirst(consumed)
        }
        return result
    }
}
