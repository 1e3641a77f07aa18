import Glibc

/// Buffered input from the client with deadlines: one `read` fills the buffer for many pipelined
/// commands, and no byte costs a system call of its own.
struct SMTPInput {
    enum LineResult: Equatable {
        case line([UInt8])
        /// Longer than the limit; the rest of it was skipped up to its CRLF.
        case tooLong
        case bareLineEnding
        case endOfInput
        case timeout
    }

    let fd: Int32
    /// Once STARTTLS succeeded, every byte comes through it.
    var tls: TLSConnection?
    /// Bytes read land in `buffer[end...]`; `buffer[start..<end]` is unread. Allocated once per session and
    /// read into in place, never zeroed: no byte is read before `read` wrote it.
    private var buffer = [UInt8](unsafeUninitializedCapacity: SMTPInput.readSize) { _, count in count = SMTPInput.readSize }
    private var start = 0
    private var end = 0
    /// The most one `read` asks for.
    static let readSize = 16384

    init(fd: Int32) { self.fd = fd }

    /// Whether a whole command line is already waiting: only then may replies wait to go out together
    /// (RFC 2920 §3.2: a server must not hold replies back while it waits for input).
    var hasCompleteLine: Bool { unread.contains(0x0A) }

    /// The next command line without its CRLF. `limit` counts the CRLF (RFC 5321: 512 octets).
    mutating func readLine(limit: Int, deadline: Int) -> LineResult {
        var skipping = false
        // Bytes after `start` already searched; relative, because `fill` may move the buffer's contents.
        var scanned = 0
        while true {
            if let newline = buffer[(start + scanned)..<end].firstIndex(of: 0x0A) {
                defer { start = newline + 1 }
                if skipping { return .tooLong }
                let line = buffer[start..<newline]
                guard line.last == 0x0D else { return .bareLineEnding }
                let content = line.dropLast()
                if content.contains(0x0D) { return .bareLineEnding }
                if line.count + 1 > limit { return .tooLong }
                return .line(Array(content))
            }
            if end - start > limit {
                // Keep memory bounded whatever the client sends: drop the overlong line as it arrives.
                skipping = true
                start = end
            }
            scanned = end - start
            switch fill(deadline: deadline) {
            case .timeout: return .timeout
            case .endOfInput: return .endOfInput
            default: continue
            }
        }
    }

    /// The buffer's size, for tests of its bound.
    var capacity: Int { buffer.count }

    /// The buffered bytes not yet consumed; `consume` marks some as used.
    var unread: ArraySlice<UInt8> { buffer[start..<end] }

    mutating func consume(_ count: Int) { start += count }

    /// Forgets every byte read and not yet consumed: what a client sent after STARTTLS, before the handshake,
    /// must not be taken as commands said over TLS (RFC 3207 §6).
    mutating func discardUnread() { start = end }

    /// Reads more into the buffer; `.line([])` means "got some".
    mutating func fill(deadline: Int) -> LineResult {
        makeRoom()
        if let tls { return fill(through: tls, deadline: deadline) }
        while true {
            let remaining = deadline - MailDate.now()
            guard remaining > 0 else { return .timeout }
            var watched = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&watched, 1, Int32(min(remaining, 3600) * 1000))
            if ready < 0 && errno == EINTR { continue }
            if ready <= 0 { return ready == 0 ? .timeout : .endOfInput }
            let wanted = min(SMTPInput.readSize, buffer.count - end)
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + end, wanted) }
            if count < 0 && (errno == EINTR || errno == EAGAIN) { continue }
            if count <= 0 { return .endOfInput }
            end += count
            return .line([])
        }
    }

    private mutating func fill(through tls: TLSConnection, deadline: Int) -> LineResult {
        let wanted = min(SMTPInput.readSize, buffer.count - end)
        let until = ContinuousClock.now + .seconds(max(0, deadline - MailDate.now()))
        let count: Int
        do {
            count = try buffer.withUnsafeMutableBytes { bytes in
                Result { () throws(TLSError) in
                    try tls.read(into: UnsafeMutableRawBufferPointer(rebasing: bytes[end..<(end + wanted)]), deadline: until)
                }
            }.get()
        } catch {
            return error == .timedOut ? .timeout : .endOfInput
        }
        if count == 0 { return .endOfInput }
        end += count
        return .line([])
    }

    /// Moves the unread bytes to the front once consumed bytes are in the way, and grows the buffer only when
    /// unread bytes fill most of it. Unread bytes are at most a command line's limit when a read is needed
    /// (`readLine` drops an overlong line as it comes; DATA consumes all it is given), so it stays at its size.
    private mutating func makeRoom() {
        if start == end {
            start = 0
            end = 0
        }
        guard buffer.count - end < SMTPInput.readSize else { return }
        if start > 0 {
            let count = end - start
            buffer.withUnsafeMutableBytes { bytes in
                _ = memmove(bytes.baseAddress!, bytes.baseAddress! + start, count)
            }
            start = 0
            end = count
        }
        if buffer.count - end < SMTPInput.readSize / 2 {
            buffer.append(contentsOf: repeatElement(0, count: SMTPInput.readSize))
        }
    }
}
