import Glibc

/// Puts one message into the queue durably. qmail: qmail-queue.
///
/// The spool file is the envelope followed by the message, so one rename commits both. The envelope
/// arrives after the message (qmail-queue's order), so the message is held in memory and, past
/// `memoryLimit`, in an unlinked spill file, then written after the envelope.
public struct QueueWriter: Sendable {
    public let layout: QueueLayout
    /// Messages up to this size never touch the disk twice.
    public var memoryLimit = 1 << 20
    /// The largest message accepted, in bytes as read (without the `Received:` line); 0 = no limit. quail-queue
    /// sets it from `databytes` for callers who are not the queue's owner; larger is `QueueFailure.tooBig`.
    public var maximumMessageBytes = 0
    /// The most recipients one message may have: every one is a line of its state record, which quail-send
    /// rewrites as deliveries finish. More is `QueueFailure.tooManyRecipients`.
    public static let maximumRecipients = 10_000

    public init(layout: QueueLayout) { self.layout = layout }

    /// Reads the message on `messageFD` to its end, then the envelope on `envelopeFD`, and commits both.
    /// `received` gives a whole header line, LF-ended, to put on top of the message; it is asked once the
    /// message has arrived, so its date is the arrival's. The caller wakes quail-send (`QueueTrigger.pull`),
    /// after telling its own client.
    public func inject(messageFD: Int32, envelopeFD: Int32, received: () -> String) throws(QueueFailure) -> QueueID {
        // The file first: its creation (an inode to find, the tmp/ directory locked meanwhile) then overlaps the
        // message's arrival instead of delaying the reply after its end.
        let injection = try begin()
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 1)
        defer { chunk.deallocate() }
        while true {
            let count: Int
            do { count = try FileIO.read(messageFD, into: chunk) } catch { throw .readFailed }
            if count == 0 { break }
            try injection.append(UnsafeRawBufferPointer(rebasing: chunk[0..<count]))
        }
        // Through the same chunk: a second 64 KiB buffer would grow the heap in every queue process.
        let envelopeBytes: [UInt8]
        do { envelopeBytes = try FileIO.readAll(envelopeFD, sizeHint: 256, using: chunk) } catch { throw .readFailed }
        return try injection.commit(Envelope.parse(envelopeBytes), received: received())
    }

    /// Starts a message whose bytes come in pieces: quail-queue's reading, or a quail-smtpd session that commits
    /// its messages itself. Dropped without a commit, it leaves nothing behind.
    public func begin() throws(QueueFailure) -> Injection {
        Injection(writer: self, file: try TemporaryFile(layout.tmp))
    }

    /// One message on its way in: held in memory and, past `memoryLimit`, in an unlinked spill file, because the
    /// envelope (qmail-queue's order: after the message) is written first.
    public final class Injection {
        let writer: QueueWriter
        fileprivate let file: TemporaryFile
        private var head: [UInt8] = []
        private var spill: Int32 = -1
        private var messageBytes = 0

        fileprivate init(writer: QueueWriter, file: TemporaryFile) {
            self.writer = writer
            self.file = file
        }

        deinit { if spill >= 0 { close(spill) } }

        /// Adds message bytes (LF line ends, as spooled).
        public func append(_ bytes: UnsafeRawBufferPointer) throws(QueueFailure) {
            messageBytes += bytes.count
            // Refused as soon as it is too big: the rest is never read, and the dropped injection leaves nothing.
            if writer.maximumMessageBytes > 0 && messageBytes > writer.maximumMessageBytes { throw .tooBig }
            if spill < 0 && head.count + bytes.count > writer.memoryLimit {
                spill = try writer.openSpill()
            }
            if spill >= 0 {
                do { try FileIO.writeAll(spill, bytes) } catch { throw .writeFailed }
            } else {
                head.append(contentsOf: bytes)
            }
        }

        /// Writes envelope, `received` and the message, and commits them durably; the message's queue id.
        public func commit(_ envelope: Envelope, received: String) throws(QueueFailure) -> QueueID {
            guard envelope.recipients.count <= QueueWriter.maximumRecipients else { throw .tooManyRecipients }
            return try writer.commit(file, envelope: envelope, top: Array(received.utf8), head: head, spill: spill)
        }
    }

    /// Commits a message built in memory (bounces, forwards) and wakes quail-send. The message gets no extra
    /// Received line.
    public func inject(message: [UInt8], envelope: Envelope) throws(QueueFailure) -> QueueID {
        for address in [envelope.sender] + envelope.recipients where address.utf8.count > Envelope.maximumAddressLength {
            throw .addressTooLong
        }
        guard !envelope.recipients.isEmpty else { throw .envelopeFormat }
        let id = try commit(TemporaryFile(layout.tmp), envelope: envelope, top: [], head: message, spill: -1)
        QueueTrigger.pull(layout)
        return id
    }

    // Glibc's module does not export O_TMPFILE (__O_TMPFILE | O_DIRECTORY on Linux).
    private var openTemporaryFile: Int32 { 0o20000000 | O_DIRECTORY }

    fileprivate func openSpill() throws(QueueFailure) -> Int32 {
        do { return try FileIO.open(layout.tmp, O_RDWR | openTemporaryFile, mode: 0o600) } catch { throw .tmpTrouble }
    }

    /// Writes envelope + `top` + message into `file` under `tmp/`, fsyncs it, renames it into `todo/` and fsyncs
    /// `todo/`. The message is `head`, then what was spilled.
    fileprivate func commit(_ file: TemporaryFile, envelope: Envelope, top: [UInt8], head: [UInt8], spill: Int32) throws(QueueFailure) -> QueueID {
        var info = stat()
        guard fstat(file.fd, &info) == 0 else { throw .tmpTrouble }
        let id = QueueID(info.st_ino)
        do {
            try FileIO.writeAll(file.fd, envelope.encoded + top + head)
            if spill >= 0 { try copyRest(of: spill, to: file.fd) }
            try FileIO.sync(file.fd)
        } catch {
            throw .writeFailed
        }
        do { try FileIO.rename(file.path, layout.todoPath(id)) } catch { throw .todoTrouble }
        file.committed = true
        // The rename is only durable once its directory is: until then no 0 exit, no 250.
        do { try FileIO.syncDirectory(layout.todo) } catch { throw .todoTrouble }
        return id
    }

    private func copyRest(of spill: Int32, to fd: Int32) throws(Errno) {
        var info = stat()
        guard fstat(spill, &info) == 0 else { throw Errno.current }
        var offset = off_t(0)
        while offset < info.st_size {
            let sent = try retryingInterrupts { sendfile(fd, spill, &offset, Int(info.st_size - offset)) }
            if sent == 0 { throw Errno(rawValue: EIO) }
        }
    }

    /// The `Received:` line quail-queue puts on top, in qmail-queue's words.
    public static func receivedLine(now: Int = MailDate.now()) -> String {
        "Received: (quail \(getpid()) invoked by uid \(getuid())); \(MailDate.format(now))\n"
    }
}

/// An injection's file under `tmp/`, named `PID.TIME.N`: closed when done with, and removed unless committed.
///
/// Named from the start, not made unnamed with `O_TMPFILE` and linked into `todo/` at the commit: an unnamed
/// file is fsynced with no link, and on a filesystem without a journal (ext2, ext4 without one) nothing then
/// writes its new link count before the 250, so after a power cut fsck would take it for a deleted file and
/// drop its `todo/` entry. A named file's own fsync writes it with its link.
private final class TemporaryFile {
    let fd: Int32
    let path: String
    var committed = false

    init(_ directory: String) throws(QueueFailure) {
        let base = "\(directory)/\(getpid()).\(MailDate.now())"
        for attempt in 0..<10 {
            let path = "\(base).\(attempt)"
            let fd: Int32
            do { fd = try FileIO.open(path, O_WRONLY | O_CREAT | O_EXCL, mode: 0o600) } catch {
                if error == .fileExists { continue }
                if error == .noSuchFileOrDirectory { throw .queueDirectoryTrouble }
                throw .tmpTrouble
            }
            // DESIGN.md: queue files are 0600, whatever umask the injecting user left (quail-queue is setuid).
            guard fchmod(fd, 0o600) == 0 else {
                close(fd)
                unlink(path)
                throw .tmpTrouble
            }
            self.fd = fd
            self.path = path
            return
        }
        throw .tmpTrouble
    }

    deinit {
        close(fd)
        if !committed { unlink(path) }
    }
}
