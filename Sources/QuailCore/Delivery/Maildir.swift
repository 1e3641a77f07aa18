import Glibc

/// One Maildir (`tmp/`, `new/`, `cur/`): creates it when missing and writes messages into `new/` durably.
/// qmail: maildir.c (maildir_child).
///
/// A message is written under `tmp/`, fsynced, linked into `new/` and `new/` is fsynced; only then does
/// `deliver` return, because the caller reports success and the queue deletes its copy. `new/` never holds
/// a partial file: a reader sees the whole message or nothing.
public struct Maildir: Sendable {
    public let path: String

    /// Attempts at a unique name before giving up; a clash needs the same microsecond, pid and host.
    static let nameAttempts = 20

    public init(path: String) { self.path = path }

    public var tmp: String { path + "/tmp" }
    public var new: String { path + "/new" }
    public var cur: String { path + "/cur" }

    /// Creates the Maildir and any missing parent with mode 0700; what exists is left as it is.
    ///
    /// Each parent of a directory created here is fsynced, so a first delivery's `new/` cannot vanish in a crash.
    public func create() throws(MaildirError) {
        // The usual case: the Maildir exists, and three stats are cheaper than walking every parent.
        if [tmp, new, cur].allSatisfy({ (try? FileIO.status($0)).flatMap { $0 }.map { $0.st_mode & S_IFMT == S_IFDIR } == true }) {
            return
        }
        for directory in [tmp, new, cur] {
            do {
                try FileIO.makeDirectories(directory, durably: true)
            } catch {
                throw .cannotCreate(path: directory, errno: error)
            }
        }
    }

    /// Writes `parts`, one after the other, as one message into `new/`; returns the file's unique name.
    public func deliver(_ parts: [[UInt8]]) throws(MaildirError) -> String {
        for _ in 0..<Maildir.nameAttempts {
            let name = Maildir.uniqueName()
            if try write(parts, name: name) { return name }
            // The same microsecond again: wait for the clock to move on.
            usleep(1000)
        }
        throw .noUniqueName(path: path)
    }

    /// Writes one attempt under `name`; false when the name is taken in `tmp/` or `new/`.
    private func write(_ parts: [[UInt8]], name: String) throws(MaildirError) -> Bool {
        let temporary = tmp + "/" + name
        let fd: Int32
        do {
            fd = try FileIO.open(temporary, O_WRONLY | O_CREAT | O_EXCL, mode: 0o600)
        } catch {
            if error == .fileExists { return false }
            throw .cannotWrite(path: temporary, errno: error)
        }
        // The tmp/ name goes in every case: after a link it is a second name, after a failure it is debris.
        defer { unlink(temporary) }
        do {
            for part in parts { try FileIO.writeAll(fd, part) }
            try FileIO.sync(fd)
        } catch {
            close(fd)
            throw .cannotWrite(path: temporary, errno: error)
        }
        // close can report a delayed write error (NFS); a message is only delivered once close succeeds.
        guard close(fd) == 0 else { throw .cannotWrite(path: temporary, errno: Errno.current) }
        return try commit(temporary, name: name)
    }

    /// Links the finished file into `new/` and fsyncs `new/`; false when `new/` already has the name.
    private func commit(_ temporary: String, name: String) throws(MaildirError) -> Bool {
        let final = new + "/" + name
        // link, unlike rename, never replaces a message already in new/.
        if link(temporary, final) != 0 {
            let error = Errno.current
            if error == .fileExists { return false }
            throw .cannotCommit(path: final, errno: error)
        }
        do {
            try FileIO.syncDirectory(new)
        } catch {
            // Not known to be durable, so the caller defers; a copy left here would become a duplicate.
            unlink(final)
            throw .cannotCommit(path: final, errno: error)
        }
        return true
    }

    /// `<seconds>.M<usec>P<pid>.<host>`, the modern Maildir convention.
    static func uniqueName() -> String {
        var now = timeval()
        gettimeofday(&now, nil)
        return "\(now.tv_sec).M\(now.tv_usec)P\(getpid()).\(safeHostName(Environment.hostName))"
    }

    /// The host name with `/` and `:` written as `\057` and `\072`, as the Maildir convention asks,
    /// since `/` would be a path and `:` starts the info part of a name in `cur/`.
    static func safeHostName(_ host: String) -> String {
        var result = ""
        for character in host {
            switch character {
            case "/": result += "\\057"
            case ":": result += "\\072"
            default: result.append(character)
            }
        }
        return result.isEmpty ? "localhost" : result
    }
}
