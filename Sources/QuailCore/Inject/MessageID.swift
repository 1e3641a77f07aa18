import Glibc

/// Message-ID values for messages quail writes itself (injected mail without one, bounces).
public enum MessageID {
    /// `<time.pid.random@host>`: unique across processes through the pid, and within one through the random part.
    public static func make(host: String, now: Int = MailDate.now()) -> String {
        let random = String(UInt64.random(in: 0...UInt64.max), radix: 36)
        return "<\(now).\(getpid()).\(random)@\(host)>"
    }
}
