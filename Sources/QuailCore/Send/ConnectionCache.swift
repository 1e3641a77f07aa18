import Glibc

/// SMTP sessions quail-remote children handed back (`KeptSession`), idle, by destination: the next delivery to
/// that destination gets one instead of connecting, greeting and saying EHLO again, and the server saves the
/// same. As Postfix's connection cache: a session waits at most `idleLimit` for its next message and lives at
/// most `ageLimit` in all, so a backlog reuses it and a quiet destination is not held open.
struct ConnectionCache {
    struct Entry {
        let fd: Int32
        /// `KeptSession.handoverText`: host, address and EHLO keywords.
        let text: String
        /// When the session was first handed back (monotonic seconds).
        let born: Int
        var idleSince: Int
    }

    static let idleLimit = 2
    static let ageLimit = 300

    private var idle: [String: [Entry]] = [:]
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    /// The most recently used session for `destination` that is still quiet (`KeptSession.isQuiet`); the ones
    /// the server has closed or spoken on meanwhile are closed on the way.
    mutating func take(_ destination: String) -> Entry? {
        while let entry = idle[destination]?.popLast() {
            count -= 1
            if idle[destination]!.isEmpty { idle[destination] = nil }
            if KeptSession.isQuiet(entry.fd) { return entry }
            close(entry.fd)
        }
        return nil
    }

    /// Keeps `entry` for `destination`, unless `limit` sessions wait already or it has lived long enough.
    mutating func put(_ entry: Entry, for destination: String, now: Int, limit: Int) {
        guard count < limit, now - entry.born < Self.ageLimit else { return Self.end(entry.fd) }
        var kept = entry
        kept.idleSince = now
        idle[destination, default: []].append(kept)
        count += 1
    }

    /// Ends the sessions idle for `idleLimit` or longer.
    mutating func expire(now: Int) {
        guard count > 0 else { return }
        for destination in Array(idle.keys) {
            let (stale, fresh) = idle[destination]!.reduce(into: ([Entry](), [Entry]())) { split, entry in
                if now - entry.idleSince >= Self.idleLimit { split.0.append(entry) } else { split.1.append(entry) }
            }
            guard !stale.isEmpty else { continue }
            for entry in stale { Self.end(entry.fd) }
            count -= stale.count
            idle[destination] = fresh.isEmpty ? nil : fresh
        }
    }

    /// Ends every idle session (SIGHUP: routes may have changed; exit).
    mutating func endAll() {
        for entry in idle.values.joined() { Self.end(entry.fd) }
        idle = [:]
        count = 0
    }

    /// Says QUIT without waiting for the reply (the loop never blocks on a server), then closes.
    static func end(_ fd: Int32) {
        _ = "QUIT\r\n".withCString { send(fd, $0, 6, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
        close(fd)
    }

    /// Seconds on the monotonic clock (the backlog's).
    static func now() -> Int { Int(Backlog.clock() / 1_000_000_000) }
}
