import Glibc

/// Wakes quail-send by writing one byte to `queue/lock/trigger`. qmail: triggerpull.
public enum QueueTrigger {
    /// Never blocks: with no reader the open fails at once, and a full FIFO already holds a wake-up.
    public static func pull(_ layout: QueueLayout) {
        let fd = Glibc.open(layout.trigger, O_WRONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { return }
        var byte: UInt8 = 0
        _ = Glibc.write(fd, &byte, 1)
        close(fd)
    }

    /// Sends one control line (`flush example.com`) to quail-send; false when nobody reads the FIFO.
    @discardableResult
    public static func sendControl(_ layout: QueueLayout, _ line: String) -> Bool {
        let fd = Glibc.open(layout.controlFIFO, O_WRONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        // Lines shorter than PIPE_BUF are written whole or not at all, so requests never interleave.
        let bytes = Array((line + "\n").utf8)
        return bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) } == bytes.count
    }
}
