import Glibc

// The write end of the self-pipe; a C signal handler cannot capture context, so it lives here.
nonisolated(unsafe) private var signalPipeWriteEnd: Int32 = -1
// The signals given a handler; a child forked without an exec puts these back to the default.
nonisolated(unsafe) private var signalPipeHandled: [Int32] = []

/// Turns signals into bytes on a pipe that a `poll` loop can watch (the self-pipe trick).
public struct SignalPipe: ~Copyable {
    /// The end to poll and read: each byte is one signal number.
    public let readEnd: Int32

    /// Installs handlers for `signals`; there is one `SignalPipe` per process.
    public init(_ signals: [Int32]) throws(Errno) {
        let ends = try FileIO.makePipe()
        for fd in [ends.read, ends.write] { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        precondition(signalPipeWriteEnd < 0, "one SignalPipe per process")
        signalPipeWriteEnd = ends.write
        signalPipeHandled = signals
        readEnd = ends.read
        // Whoever started us may have left signals blocked (Foundation's Process does): unblock ours.
        var mask = sigset_t()
        sigemptyset(&mask)
        for number in signals { sigaddset(&mask, number) }
        sigprocmask(SIG_UNBLOCK, &mask, nil)
        for number in signals {
            signal(number) { received in
                let saved = errno
                var byte = UInt8(truncatingIfNeeded: received)
                _ = write(signalPipeWriteEnd, &byte, 1)
                errno = saved
            }
        }
    }

    /// The signals this process handles through its pipe (none without a `SignalPipe`).
    public static var handled: [Int32] { signalPipeHandled }

    /// For a child forked without an exec: closes the inherited write end, which the handlers of
    /// this process wrote to and which a child that keeps running must not hold open.
    public static func closeWriteEnd() {
        guard signalPipeWriteEnd >= 0 else { return }
        close(signalPipeWriteEnd)
        signalPipeWriteEnd = -1
    }

    /// The signals received since the last call, in order, duplicates kept.
    public func drain() -> [Int32] {
        var result: [Int32] = []
        var buffer = [UInt8](repeating: 0, count: 64)
        while true {
            let count = read(readEnd, &buffer, buffer.count)
            if count <= 0 { return result }
            result += buffer[0..<count].map { Int32($0) }
        }
    }
}
