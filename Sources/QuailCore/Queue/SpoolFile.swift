import Glibc

/// A committed spool file: the envelope, then the message. Read only: the bytes never change.
public struct SpoolFile: Sendable {
    public var envelope: Envelope
    /// Where the message starts: the envelope's length.
    public var messageOffset: Int
    /// The message's length in bytes.
    public var messageBytes: Int
    /// When the file was written, which is when quail-queue accepted it.
    public var written: Int
    /// The uid that ran quail-queue (the file's owner), for the log's `uid` field.
    public var owner: UInt32
    /// The message's first `headLength` bytes (all of a shorter message), read with the envelope: quail-send's
    /// log takes the queue process and uid from its first line.
    public var messageHead: ArraySlice<UInt8>

    /// How much of the message `read` brings with the envelope.
    public static let headLength = 128

    /// Reads the envelope of the spool file at `path`; `nil` when the file is gone.
    public static func read(_ path: String) throws(SpoolError) -> SpoolFile? {
        let fd: Int32
        do { fd = try FileIO.open(path, O_RDONLY) } catch {
            if error == .noSuchFileOrDirectory { return nil }
            throw .unreadable(path, error)
        }
        defer { close(fd) }
        return try read(fd: fd, path: path)
    }

    /// Reads the envelope from the start of `fd`, growing the read until the envelope and the message's head are in.
    public static func read(fd: Int32, path: String) throws(SpoolError) -> SpoolFile {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .unreadable(path, .current) }
        var prefix: [UInt8] = []
        var want = 4096
        while true {
            var chunk = [UInt8](repeating: 0, count: want - prefix.count)
            let count = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(prefix.count)) }
            guard count >= 0 else { throw .unreadable(path, .current) }
            prefix += chunk[0..<count]
            let parsed: (Envelope, Int)?
            do { parsed = try Envelope.parsePrefix(prefix) } catch { throw .damaged(path) }
            if let (envelope, length) = parsed, count == 0 || prefix.count >= min(Int(info.st_size), length + headLength) {
                return SpoolFile(envelope: envelope, messageOffset: length, messageBytes: Int(info.st_size) - length,
                                 written: Int(info.st_mtim.tv_sec), owner: info.st_uid,
                                 messageHead: prefix[length..<min(prefix.count, length + headLength)])
            }
            guard count > 0 else { throw .damaged(path) }
            want *= 4
        }
    }

    /// Up to `limit` bytes of the message in the spool file at `path`.
    public static func messagePrefix(_ path: String, offset: Int, limit: Int) throws(SpoolError) -> [UInt8] {
        let fd: Int32
        do { fd = try FileIO.open(path, O_RDONLY) } catch { throw .unreadable(path, error) }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: limit)
        var filled = 0
        while filled < limit {
            let count = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + filled, limit - filled, off_t(offset + filled)) }
            guard count >= 0 else { throw .unreadable(path, .current) }
            if count == 0 { break }
            filled += count
        }
        return Array(bytes[0..<filled])
    }
}

/// Why a spool file could not be used.
public enum SpoolError: Error, Sendable, CustomStringConvertible {
    case unreadable(String, Errno)
    /// The envelope does not parse: such a file was never committed by quail-queue.
    case damaged(String)

    public var description: String {
        switch self {
        case .unreadable(let path, let errno): "cannot read \(path): \(errno)"
        case .damaged(let path): "damaged envelope in \(path)"
        }
    }
}
