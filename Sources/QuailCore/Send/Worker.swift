import Glibc

/// A delivery worker quail-send started (`quail-remote --worker` or `quail-local --worker`) and what it is
/// doing. quail-send writes requests to its stdin and reads results from its stdout (`WorkerFrame`).
final class Worker {
    let pid: pid_t
    let channel: Channel
    /// The control files' generation it was given; after a reload, an older one retires once idle.
    let generation: Int
    /// quail-send's end of the worker's stdin; -1 once closed, which tells the worker to finish and exit.
    var requests: Int32
    /// quail-send's end of the worker's stdout, non-blocking; -1 once it reached its end.
    var results: Int32
    var reader = WorkerFrameReader()
    /// The delivery it is doing; nil while idle.
    var delivery: RunningDelivery?
    /// Deliveries it finished.
    var served = 0
    /// The destination whose SMTP session it keeps open, as its last result said.
    var kept: String?
    /// When it last finished a delivery (or started).
    var idleSince: Int
    var exitStatus: Int32?

    /// Deliveries a worker serves before it retires (Postfix's `max_use`): a leak or a slow growth in one
    /// never lasts, and a new binary is picked up in the normal course of things.
    static let maximumDeliveries = 100
    /// Seconds an idle worker waits for work before it retires, so a quiet quail-send holds no processes.
    static let idleLimit = 60

    init(pid: pid_t, channel: Channel, generation: Int, requests: Int32, results: Int32, now: Int) {
        self.pid = pid
        self.channel = channel
        self.generation = generation
        self.requests = requests
        self.results = results
        idleSince = now
    }

    var isRetiring: Bool { requests < 0 }
    var isIdle: Bool { delivery == nil && !isRetiring && results >= 0 }
    /// Both its output has ended and its exit status is in: nothing more will come from it.
    var isGone: Bool { results < 0 && exitStatus != nil }

    /// Starts the worker's program with a pipe each way and sends it `snapshot` as its first frame.
    static func start(_ program: String, channel: Channel, snapshot: ControlSnapshot, generation: Int,
                      now: Int) throws(Errno) -> Worker {
        let toWorker = try FileIO.makePipe()
        let fromWorker: (read: Int32, write: Int32)
        do { fromWorker = try FileIO.makePipe() } catch {
            close(toWorker.read)
            close(toWorker.write)
            throw error
        }
        defer {
            close(toWorker.read)
            close(fromWorker.write)
        }
        let pid: pid_t
        do {
            pid = try ChildProcess.spawn(program, arguments: ["--worker"], stdin: toWorker.read, stdout: fromWorker.write)
        } catch {
            close(toWorker.write)
            close(fromWorker.read)
            throw error
        }
        _ = fcntl(fromWorker.read, F_SETFL, fcntl(fromWorker.read, F_GETFL) | O_NONBLOCK)
        let worker = Worker(pid: pid, channel: channel, generation: generation, requests: toWorker.write,
                            results: fromWorker.read, now: now)
        // A worker that cannot take its configuration is no worker: it is retired, and reaped as it exits.
        if !worker.send(.control(snapshot)) { worker.retire() }
        return worker
    }

    /// Writes one frame to the worker; false when it is gone (EPIPE: SIGPIPE is ignored in quail-send).
    func send(_ frame: WorkerFrame) -> Bool {
        guard requests >= 0 else { return false }
        return (try? FileIO.writeAll(requests, frame.encoded)) != nil
    }

    /// Closes its stdin: it ends its kept session and exits, and its exit is reaped like any other.
    func retire() {
        guard requests >= 0 else { return }
        close(requests)
        requests = -1
    }

    /// Reads what is there of its stdout; the frames that became whole, and whether the output ended.
    func readResults() -> (frames: [WorkerFrame], ended: Bool) {
        guard results >= 0 else { return ([], true) }
        var frames: [WorkerFrame] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        var ended = false
        while true {
            let count = read(results, &buffer, buffer.count)
            if count > 0 {
                reader.append(buffer[0..<count])
                continue
            }
            if count < 0 && errno == EINTR { continue }
            ended = count == 0 || errno != EAGAIN
            break
        }
        do {
            while let frame = try reader.next() { frames.append(frame) }
        } catch {
            SendLog.warning("worker \(pid) (\(channel.rawValue)): \(error); retiring it")
            ended = true
        }
        if ended {
            close(results)
            results = -1
            retire()
        }
        return (frames, ended)
    }
}
