import CSystemShims
import Glibc

/// Plain file-descriptor I/O for the mail path: whole reads and writes, durable commits.
public enum FileIO {
    /// Opens `path`, retrying on `EINTR`. The caller closes the descriptor.
    public static func open(_ path: String, _ flags: Int32, mode: mode_t = 0o600) throws(Errno) -> Int32 {
        try retryingInterrupts { Glibc.open(path, flags | O_CLOEXEC, mode) }
    }

    /// Writes every byte of `bytes` to `fd`.
    public static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) throws(Errno) {
        var offset = 0
        while offset < bytes.count {
            let base = bytes.baseAddress! + offset
            let count = bytes.count - offset
            let written = try retryingInterrupts { Glibc.write(fd, base, count) }
            offset += written
        }
    }

    /// Writes every byte of `bytes` to `fd`.
    public static func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws(Errno) {
        // withUnsafeBytes rethrows untyped errors, so the typed one travels out in a Result.
        try bytes.withUnsafeBytes { buffer in Result { () throws(Errno) in try writeAll(fd, buffer) } }.get()
    }

    /// Writes every byte of the UTF-8 string to `fd`.
    public static func writeAll(_ fd: Int32, _ text: String) throws(Errno) {
        try writeAll(fd, Array(text.utf8))
    }

    /// Reads `fd` to its end.
    public static func readAll(_ fd: Int32, sizeHint: Int = 16384) throws(Errno) -> [UInt8] {
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 1)
        defer { chunk.deallocate() }
        return try readAll(fd, sizeHint: sizeHint, using: chunk)
    }

    /// The same, reading through `chunk`, a buffer the caller already has.
    public static func readAll(_ fd: Int32, sizeHint: Int = 16384, using chunk: UnsafeMutableRawBufferPointer) throws(Errno) -> [UInt8] {
        var result: [UInt8] = []
        result.reserveCapacity(sizeHint)
        while true {
            let count = try read(fd, into: chunk)
            if count == 0 { return result }
            result.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[0..<count]))
        }
    }

    /// One `read` into `buffer`, retried on `EINTR`; 0 at end of file.
    public static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int {
        try retryingInterrupts { Glibc.read(fd, buffer.baseAddress, buffer.count) }
    }

    /// A pipe whose two ends are closed on exec; `ChildProcess.spawn` hands the child the ends it needs.
    public static func makePipe() throws(Errno) -> (read: Int32, write: Int32) {
        // One call, not three: a session makes three pipes per message. Atomic, too: no exec in another
        // thread could catch an end before its flag is set.
        var ends: [Int32] = [0, 0]
        guard pipe2(&ends, O_CLOEXEC) == 0 else { throw Errno.current }
        return (ends[0], ends[1])
    }

    /// A connected pair of Unix stream sockets (close-on-exec): a pipe that can also carry descriptors.
    public static func makeSocketPair() throws(Errno) -> (read: Int32, write: Int32) {
        var ends: [Int32] = [0, 0]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0, &ends) == 0 else { throw Errno.current }
        return (ends[0], ends[1])
    }

    /// `O_NOATIME`, which Glibc's module does not export. Only the file's owner (or root) may use it.
    public static let noAccessTime: Int32 = 0o1000000

    /// Reads the whole file at `path`; `nil` when it does not exist. With `keepingAccessTime`, the read leaves the file's atime alone where we own it: state records carry a
    /// future mtime (their next attempt), and relatime would otherwise write every record's inode back after a
    /// read of it.
    public static func readFile(_ path: String, keepingAccessTime: Bool = false) throws(Errno) -> [UInt8]? {
        let fd: Int32
        do {
            fd = try openForReading(path, keepingAccessTime: keepingAccessTime)
        } catch {
            if error == .noSuchFileOrDirectory { return nil }
            throw error
        }
        defer { close(fd) }
        return try readAll(fd)
    }

    /// Sets the mtime of `fd` to `seconds` since the epoch, leaving its atime alone.
    public static func setModified(_ fd: Int32, _ seconds: Int) throws(Errno) {
        let omit = (1 << 30) - 2  // UTIME_OMIT, a macro Swift does not import
        let times = [timespec(tv_sec: 0, tv_nsec: omit), timespec(tv_sec: seconds, tv_nsec: 0)]
        guard futimens(fd, times) == 0 else { throw Errno.current }
    }

    /// Opens `name` read-only, relative to the open directory `directory` (or the working directory), with
    /// `O_NOATIME` when asked and allowed.
    static func openForReading(_ name: UnsafePointer<CChar>, in directory: Int32 = AT_FDCWD, keepingAccessTime: Bool) throws(Errno) -> Int32 {
        if keepingAccessTime {
            do { return try retryingInterrupts { openat(directory, name, O_RDONLY | O_CLOEXEC | noAccessTime) } } catch where error == Errno(rawValue: EPERM) {}
        }
        return try retryingInterrupts { openat(directory, name, O_RDONLY | O_CLOEXEC) }
    }

    /// Flushes `fd` to stable storage.
    public static func sync(_ fd: Int32) throws(Errno) {
        try retryingInterrupts { fsync(fd) }
    }

    /// Flushes a directory, so that renames and unlinks in it are durable.
    public static func syncDirectory(_ path: String) throws(Errno) {
        let fd = try open(path, O_RDONLY | O_DIRECTORY)
        defer { close(fd) }
        try sync(fd)
    }

    /// Renames `from` to `to`: the commit of every write-then-rename in quail.
    public static func rename(_ from: String, _ to: String) throws(Errno) {
        try retryingInterrupts { Glibc.rename(from, to) }
    }

    /// Removes `path`; a file that is already gone is not an error.
    public static func unlinkIfPresent(_ path: String) throws(Errno) {
        if Glibc.unlink(path) == 0 { return }
        let error = Errno.current
        if error != .noSuchFileOrDirectory { throw error }
    }

    /// Writes `bytes` to `path` durably: a temporary file beside it, fsync, rename, directory fsync.
    /// `modified`, when given, becomes the file's mtime (quail-send's state records carry their next work time so).
    public static func replaceDurably(_ path: String, with bytes: [UInt8], temporary: String, syncing: Bool = true,
                                      modified: Int? = nil) throws(Errno) {
        let fd = try open(temporary, O_WRONLY | O_CREAT | O_TRUNC)
        do {
            try writeAll(fd, bytes)
            if let modified { try setModified(fd, modified) }
            if syncing { try sync(fd) }
        } catch {
            close(fd)
            try? unlinkIfPresent(temporary)
            throw error
        }
        close(fd)
        try rename(temporary, path)
        if syncing { try syncDirectory(directoryName(of: path)) }
    }

    /// Creates `path` and its parents with `mode`; existing directories are left alone.
    /// With `durably`, the parent of each directory created is fsynced, so a crash cannot undo the creation.
    public static func makeDirectories(_ path: String, mode: mode_t = 0o700, durably: Bool = false) throws(Errno) {
        var prefix = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            let parent = prefix.isEmpty ? "/" : prefix
            prefix += "/" + component
            if mkdir(prefix, mode) == 0 {
                if durably { try syncDirectory(parent) }
                continue
            }
            let error = Errno.current
            if error != .fileExists { throw error }
        }
    }

    /// The names in directory `path`, without `.` and `..`.
    public static func listDirectory(_ path: String) throws(Errno) -> [String] {
        var names: [String] = []
        try forEachEntry(in: path) { name, _ in names.append(name) }
        return names
    }

    /// Calls `body` with each name in directory `path` but `.` and `..`, and the directory's descriptor for the
    /// `*at` calls.
    public static func forEachEntry(in path: String, _ body: (String, Int32) -> Void) throws(Errno) {
        guard let directory = opendir(path) else { throw Errno.current }
        defer { closedir(directory) }
        let fd = dirfd(directory)
        while let entry = readdir(directory) {
            let name = withUnsafePointer(to: entry.pointee.d_name) { pointer in
                pointer.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { body(name, fd) }
        }
    }

    /// The directory part of `path` (`.` for a bare name).
    public static func directoryName(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// `stat` of `path`; `nil` when it does not exist.
    public static func status(_ path: String) throws(Errno) -> stat? {
        var info = stat()
        if stat(path, &info) == 0 { return info }
        let error = Errno.current
        if error == .noSuchFileOrDirectory { return nil }
        throw error
    }
}
