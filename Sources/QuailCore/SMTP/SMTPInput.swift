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

    private let fd: Int32
    private var buffer: [UInt8] = []
    private var start = 0

    init(fd: Int32) { self.fd = fd }

    /// Whether a whole command line is already waiting: only then may replies wait to go out together
    /// (RFC 2920 §3.2: a server must not hold replies back while it waits for input).
    var hasCompleteLine: Bool { buffer[start...].contains(0x0A) }

    /// The next command line without its CRLF. `limit` counts the CRLF (RFC 5321: 512 octets).
    mutating func readLine(limit: Int, deadline: Int) -> LineResult {
        var skipping = false
        // Bytes after `start` already searched; relative, because `fill` may move the buffer's contents.
        var scanned = 0
        while true {
            if let newline = buffer[(start + scanned)...].firstIndex(of: 0x0A) {
                defer { start = newline + 1 }
                if skipping { return .tooLong }
                let line = buffer[start..<newline]
                guard line.last == 0x0D else { return .bareLineEnding }
                let content = line.dropLast()
                if content.contains(0x0D) { return .bareLineEnding }
                if line.count + 1 > limit { return .tooLong }
                return .line(Array(content))
            }
            if buffer.count - start > limit {
                // Keep memory bounded whatever the client sends: drop the overlong line as it arrives.
                skipping = true
                start = buffer.count
            }
            scanned = buffer.count - start
            switch fill(deadline: deadline) {
            case .timeout: return .timeout
            case .endOfInput: return .endOfInput
            default: continue
            }
        }
    }

    /// The buffered bytes not yet consumed; `consume` marks some as used.
    var unread: ArraySlice<UInt8> { buffer[start...] }

    mutating func consume(_ count: Int) { start += count }

    /// Reads more into the buffer; `.line([])` means "got some".
    mutating func fill(deadline: Int) -> LineResult {
        if start > 0 && start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        } else if start > 65536 {
            buffer.removeFirst(start)
            start = 0
        }
        while true {
            let remaining = deadline - MailDate.now()
            guard remaining > 0 else { return .timeout }
            var watched = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&watched, 1, Int32(min(remaining, 3600) * 1000))
            if ready < 0 && errno == EINTR { continue }
            if ready <= 0 { return ready == 0 ? .timeout : .endOfInput }
            var chunk = [UInt8](repeating: 0, count: 16384)
            let count = read(fd, &chunk, chunk.count)
            if count < 0 && (errno == EINTR || errno == EAGAIN) { continue }
            if count <= 0 { return .endOfInput }
            buffer.append(contentsOf: chunk[0..<count])
            return .line([])
        }
    }
}
