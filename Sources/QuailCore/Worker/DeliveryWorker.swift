import Glibc

/// What a delivery worker does with each delivery: quail-remote's `RemoteWorker`, quail-local's `LocalWorker`.
public protocol WorkerJob {
    /// Delivers `message` (LF line ends, as spooled) and returns the report the one-shot program would print,
    /// with the destination whose session stays open after it, if any.
    mutating func deliver(message: [UInt8], sender: String, recipients: [String]) -> (report: String, kept: String?)
    /// When a kept session has been idle long enough to end; nil when nothing is kept.
    var idleDeadline: ContinuousClock.Instant? { get }
    /// Ends what `idleDeadline` said is due.
    mutating func expire()
    /// Ends every kept session: the worker is exiting.
    mutating func finish()
}

/// The worker side of the protocol quail-send speaks with `quail-remote --worker` and `quail-local --worker`
/// (docs/DESIGN.md, "Delivery workers"): frames on stdin, one result frame on stdout per delivery, until
/// quail-send closes stdin. The configuration is the `control` frame's, never `control/` on disk.
public enum DeliveryWorker {
    /// Serves deliveries until the end of stdin; returns the exit code (0, or 111 when the peer is confused).
    public static func serve(_ program: String, home: QuailHome, makeJob: (Configuration) -> any WorkerJob) -> Int32 {
        signal(SIGPIPE, SIG_IGN)
        var input = FrameInput(fd: STDIN_FILENO)
        var job: (any WorkerJob)?
        var configurationProblem = "no control frame came first"
        while true {
            let frame: WorkerFrame
            switch input.next(until: job?.idleDeadline) {
            case .frame(let next): frame = next
            case .idle:
                job?.expire()
                continue
            case .end:
                job?.finish()
                return 0
            case .malformed(let reason):
                Diagnostics.log("\(program): worker: \(reason); exiting")
                job?.finish()
                return 111
            }
            switch frame {
            case .control(let snapshot):
                job?.finish()
                do {
                    job = makeJob(try Configuration(snapshot: snapshot, home: home))
                } catch {
                    // quail-send parsed the same bytes, so this is a bug or a version mismatch: defer, never bounce.
                    job = nil
                    configurationProblem = "cannot use quail-send's control files: \(error)"
                }
            case .deliver(let path, let offset, let sender, let recipients):
                let answer: (report: String, kept: String?)
                if var current = job {
                    answer = deliver(with: &current, path: path, offset: offset, sender: sender, recipients: recipients)
                    job = current
                } else {
                    answer = (deferAll(recipients, "\(program): \(configurationProblem) (#4.3.0)"), nil)
                }
                let result = WorkerFrame.result(report: Array(answer.report.utf8), kept: answer.kept)
                do { try FileIO.writeAll(STDOUT_FILENO, result.encoded) } catch {
                    // quail-send is gone; whatever it did not hear about is retried by the next one.
                    job?.finish()
                    return 111
                }
            case .result:
                Diagnostics.log("\(program): worker: a result frame came from quail-send; exiting")
                job?.finish()
                return 111
            }
        }
    }

    private static func deliver(with job: inout any WorkerJob, path: String, offset: Int, sender: String,
                                recipients: [String]) -> (report: String, kept: String?) {
        let message: [UInt8]
        do {
            let fd = try FileIO.open(path, O_RDONLY)
            defer { close(fd) }
            guard lseek(fd, off_t(offset), SEEK_SET) == off_t(offset) else { throw Errno.current }
            message = try FileIO.readAll(fd)
        } catch {
            return (deferAll(recipients, "cannot read the queued message \(path): \(error) (#4.3.0)"), nil)
        }
        return job.deliver(message: message, sender: sender, recipients: recipients)
    }

    private static func deferAll(_ recipients: [String], _ text: String) -> String {
        recipients.map { _ in DeliveryResult.deferred(text).reportLine }.joined()
    }
}

/// Frames read from a descriptor, with a deadline for the idle wait.
struct FrameInput {
    enum Next {
        case frame(WorkerFrame)
        /// The deadline passed with no frame.
        case idle
        case end
        case malformed(String)
    }

    let fd: Int32
    private var reader = WorkerFrameReader()
    private var chunk = [UInt8](repeating: 0, count: 65536)

    init(fd: Int32) { self.fd = fd }

    mutating func next(until deadline: ContinuousClock.Instant?) -> Next {
        while true {
            do {
                if let frame = try reader.next() { return .frame(frame) }
            } catch {
                return .malformed("\(error)")
            }
            var watched = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let timeout: Int32
            if let deadline {
                let left = deadline - .now
                guard left > .zero else { return .idle }
                let (seconds, attoseconds) = left.components
                timeout = Int32(min(seconds * 1000 + attoseconds / 1_000_000_000_000_000 + 1, 3_600_000))
            } else {
                timeout = -1
            }
            let ready = poll(&watched, 1, timeout)
            if ready < 0 && errno == EINTR { continue }
            if ready < 0 { return .end }
            if ready == 0 { return .idle }
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && (errno == EINTR || errno == EAGAIN) { continue }
            if count <= 0 { return .end }
            reader.append(chunk[..<count])
        }
    }
}
