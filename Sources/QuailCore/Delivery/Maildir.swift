import Glibc

/// One Maildir (`tmp/`, `new/`, `cur/`): creates it when missing and writes messages into `new/` durably.
/// qmail: maildir.c (maildir_child).
///
/// A message is written under `tmp/`, fsynced, linked into `new/` and `new/` is fsynced; only then does
/// `deliver` return, because the caller reports success and the queue deletes its copy. `new/` never holds
/// a partial file: a reader sees the whole message or nothing.
///
/// `root` is the admin's (maildirroot) and is taken as it is, symbolic links included. Below it, every
/// directory is opened relative to its parent's descriptor without following a symbolic link, and files are
/// made and linked relative to `tmp/` and `new/`: whoever may write somewhere under the root cannot turn a
/// delivery to a place outside it, not even by swapping a directory for a link while a delivery runs.
public struct Maildir: Sendable {
    /// The directory trusted as it is; created with its parents when missing.
    public let root: String
    /// The names from `root` down to the Maildir, each one directory, never followed when it is a link.
    public let components: [String]

    /// Attempts at a unique name before giving up; a clash needs the same microsecond, pid and host.
    static let nameAttempts = 20

    /// The Maildir `components` below `root`: `Maildir(root: maildirroot, components: [domain, user])`.
    public init(root: String, components: [String]) {
        self.root = root
        self.components = components
    }

    /// The Maildir at `path`, which is trusted as it is: only `tmp/`, `new/` and `cur/` are opened as links-never.
    public init(path: String) { self.init(root: path, components: []) }

    public var path: String { ([root] + components).joined(separator: "/") }
    public var tmp: String { path + "/tmp" }
    public var new: String { path + "/new" }
    public var cur: String { path + "/cur" }

    /// Creates the Maildir and any missing parent with mode 0700; what exists is left as it is.
    ///
    /// Each parent of a directory created here is fsynced, so a first delivery's `new/` cannot vanish in a crash.
    public func create() throws(MaildirError) {
        let directories = try openDirectories()
        close(directories.tmp)
        close(directories.new)
    }

    /// Whether the Maildir's own directory exists below the root, reached without following a link.
    /// A link or a plain file where a directory belongs counts as missing: no delivery would go there.
    public func exists() throws(MaildirError) -> Bool {
        let top: Int32
        do {
            top = try FileIO.open(root, O_RDONLY | O_DIRECTORY)
        } catch {
            if error == .noSuchFileOrDirectory { return false }
            throw .cannotCreate(path: root, errno: error)
        }
        var fd = top
        defer { close(fd) }
        var current = root
        for name in components {
            current += "/" + name
            do {
                let next = try Maildir.openDirectory(name, in: fd)
                close(fd)
                fd = next
            } catch {
                let notADirectory: [Errno] = [.noSuchFileOrDirectory, Errno(rawValue: ELOOP), Errno(rawValue: ENOTDIR)]
                if notADirectory.contains(error) { return false }
                throw .cannotCreate(path: current, errno: error)
            }
        }
        return true
    }

    /// Writes `parts`, one after the other, as one message into `new/`; returns the file's unique name.
    /// Creates the Maildir first when it is missing.
    public func deliver(_ parts: [[UInt8]]) throws(MaildirError) -> String {
        let directories = try openDirectories()
        defer {
            close(directories.tmp)
            close(directories.new)
        }
        for _ in 0..<Maildir.nameAttempts {
            let name = Maildir.uniqueName()
            if try write(parts, name: name, in: directories) { return name }
            // The same microsecond again: wait for the clock to move on.
            usleep(1000)
        }
        throw .noUniqueName(path: path)
    }

    /// Writes one attempt under `name`; false when the name is taken in `tmp/` or `new/`.
    private func write(
        _ parts: [[UInt8]], name: String, in directories: (tmp: Int32, new: Int32)
    ) throws(MaildirError) -> Bool {
        let temporary = tmp + "/" + name
        let fd: Int32
        do {
            fd = try retryingInterrupts {
                openat(directories.tmp, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            }
        } catch {
            if error == .fileExists { return false }
            throw .cannotWrite(path: temporary, errno: error)
        }
        // The tmp/ name goes in every case: after a link it is a second name, after a failure it is debris.
        defer { unlinkat(directories.tmp, name, 0) }
        do {
            for part in parts { try FileIO.writeAll(fd, part) }
            try FileIO.sync(fd)
        } catch {
            close(fd)
            throw .cannotWrite(path: temporary, errno: error)
        }
        // close can report a delayed write error (NFS); a message is only delivered once close succeeds.
        guard close(fd) == 0 else { throw .cannotWrite(path: temporary, errno: Errno.current) }
        return try commit(name, in: directories)
    }

    /// Links the finished file into `new/` and fsyncs `new/`; false when `new/` already has the name.
    private func commit(_ name: String, in directories: (tmp: Int32, new: Int32)) throws(MaildirError) -> Bool {
        let final = new + "/" + name
        // link, unlike rename, never replaces a message already in new/.
        if linkat(directories.tmp, name, directories.new, name, 0) != 0 {
            let error = Errno.current
            if error == .fileExists { return false }
            throw .cannotCommit(path: final, errno: error)
        }
        do {
            try FileIO.sync(directories.new)
        } catch {
            // Not known to be durable, so the caller defers; a copy left here would become a duplicate.
            unlinkat(directories.new, name, 0)
            throw .cannotCommit(path: final, errno: error)
        }
        return true
    }

    /// Opens (creating what is missing) the root, each component, and `tmp/`, `new/` and `cur/`; returns the
    /// descriptors of `tmp/` and `new/`, which the caller closes.
    private func openDirectories() throws(MaildirError) -> (tmp: Int32, new: Int32) {
        var fd: Int32
        do {
            try FileIO.makeDirectories(root, durably: true)
            fd = try FileIO.open(root, O_RDONLY | O_DIRECTORY)
        } catch {
            throw .cannotCreate(path: root, errno: error)
        }
        defer { close(fd) }
        var current = root
        for name in components {
            current += "/" + name
            let next = try Maildir.openOrCreateDirectory(name, in: fd, path: current)
            close(fd)
            fd = next
        }
        let tmpFD = try Maildir.openOrCreateDirectory("tmp", in: fd, path: tmp)
        let newFD: Int32
        do throws(MaildirError) {
            newFD = try Maildir.openOrCreateDirectory("new", in: fd, path: new)
            do throws(MaildirError) {
                close(try Maildir.openOrCreateDirectory("cur", in: fd, path: cur))
            } catch {
                close(newFD)
                throw error
            }
        } catch {
            close(tmpFD)
            throw error
        }
        return (tmpFD, newFD)
    }

    /// Opens directory `name` in `parent`, making it (mode 0700, the parent fsynced) when it is missing.
    private static func openOrCreateDirectory(
        _ name: String, in parent: Int32, path: String
    ) throws(MaildirError) -> Int32 {
        do {
            return try openDirectory(name, in: parent)
        } catch where error == .noSuchFileOrDirectory {
            // Made by someone else in between: fine, the open below takes it as it is.
        } catch {
            throw isSymbolicLink(name, in: parent) ? .symbolicLink(path: path) : .cannotCreate(path: path, errno: error)
        }
        do throws(Errno) {
            if mkdirat(parent, name, 0o700) == 0 {
                try FileIO.sync(parent)
            } else {
                let error = Errno.current
                if error != .fileExists { throw error }
            }
            return try openDirectory(name, in: parent)
        } catch {
            throw isSymbolicLink(name, in: parent) ? .symbolicLink(path: path) : .cannotCreate(path: path, errno: error)
        }
    }

    /// `openat` of a directory that fails, rather than follows, when `name` is a symbolic link.
    private static func openDirectory(_ name: String, in parent: Int32) throws(Errno) -> Int32 {
        try retryingInterrupts { openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
    }

    private static func isSymbolicLink(_ name: String, in parent: Int32) -> Bool {
        var info = stat()
        return fstatat(parent, name, &info, AT_SYMLINK_NOFOLLOW) == 0 && info.st_mode & S_IFMT == S_IFLNK
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
