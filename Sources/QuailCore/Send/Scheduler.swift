import Glibc

/// quail-send: the one long-running scheduler. It takes in new messages, runs deliveries as child
/// programs within the concurrency limits, records results, retries, bounces and cleans up.
/// qmail: qmail-send with qmail-lspawn, qmail-rspawn and qmail-clean.
///
/// Single-threaded: one `poll` loop watches the signal pipe, the trigger and control FIFOs and every
/// child's stdout; timers live in one heap. Nothing here scans the whole queue in steady state.
public final class Scheduler {
    let home: QuailHome
    let layout: QueueLayout
    let store: QueueStore
    var config: Configuration
    let localProgram: String
    let remoteProgram: String
    /// `QUAIL_EXEC_DELIVERIES=1`: always run the delivery programs, never fork their code (see `startChild`).
    let execDeliveries: Bool

    var messages: [QueueID: QueuedMessage] = [:]
    var timers = TimerHeap()
    var ready: [Channel: FIFO<DeliveryTask>] = [.local: FIFO(), .remote: FIFO()]
    var running: [pid_t: RunningDelivery] = [:]
    var runningCount: [Channel: Int] = [.local: 0, .remote: 0]
    var deliveryCounter = 0
    /// This process's resident size as last read (`startChild`), and the second it was read in.
    var residentSize: (bytes: Int?, second: Int) = (nil, -1)
    let codeInHugePages: Int
    /// Spool files whose envelope is damaged: reported once, then left for the admin.
    var damaged: Set<QueueID> = []
    /// Remote destinations that are down or have messages parked for them.
    var destinations: [String: Destination] = [:]
    /// When an ETRN last flushed each destination, for ETRN's limit of one flush per probe interval.
    var etrnFlushes: [String: Int] = [:]
    /// Taken-in messages whose state is not read yet (start-up).
    var backlog = Backlog()
    /// Idle SMTP sessions kept open by quail-remote children, for the next delivery to the same destination.
    var connections = ConnectionCache()

    let signals: SignalPipe
    /// The spool's owner lock (`QueueLock`), taken at start-up and held until the process exits.
    var spoolLock: QueueLock?
    private var fifos: [(read: Int32, write: Int32)] = []
    private(set) var stopDeadline: Int?
    private var nextRescan = 0

    /// How often `todo/` is listed even without a trigger, in case a wake-up was lost.
    static let rescanInterval = 60
    /// The resident size up to which deliveries are forked rather than spawned (see `startChild`).
    static let forkLimit = 64 << 20
    /// How long SIGTERM waits for running deliveries; DESIGN.md promises an exit within 45 s.
    static let stopGrace = 30

    /// `codeInHugePages`: what `HugeText.adopt()` moved, which the fork limit leaves out: a fork copies one
    /// page-table entry per 2 MiB of it, and nothing of it is written.
    public init(home: QuailHome, codeInHugePages: Int = 0) throws(SchedulerError) {
        self.home = home
        self.codeInHugePages = codeInHugePages
        layout = home.queue
        store = QueueStore(layout: layout)
        do { config = try Configuration(home: home) } catch { throw .control(error) }
        localProgram = ChildProcess.locate("quail-local")
        remoteProgram = ChildProcess.locate("quail-remote")
        execDeliveries = Environment.value("QUAIL_EXEC_DELIVERIES") == "1"
        do {
            signals = try SignalPipe([SIGCHLD, SIGHUP, SIGALRM, SIGTERM, SIGINT])
        } catch { throw .system("cannot create the signal pipe", error) }
        signal(SIGPIPE, SIG_IGN)
    }

    /// Runs until SIGTERM; returns the exit code.
    public func run() throws(SchedulerError) -> Int32 {
        guard try startUp() else {
            Diagnostics.log("status: exiting")
            return 0
        }
        if !execDeliveries { RemoteDelivery.rehearse(config: config) }
        logStatus()
        while true {
            let now = MailDate.now()
            connections.expire(now: ConnectionCache.now())
            if stopDeadline == nil {
                readBacklog()
                startProbes(now)
                releaseDue(now)
                startDeliveries()
                if now >= nextRescan {
                    scanTodo()
                    nextRescan = now + Scheduler.rescanInterval
                }
            } else if running.isEmpty || now >= stopDeadline! {
                if !running.isEmpty { SendLog.warning("exiting with \(running.count) deliveries unfinished; they will be retried") }
                connections.endAll()
                Diagnostics.log("status: exiting")
                return 0
            }
            waitForEvents(timeout: pollTimeout(now))
        }
    }

    private func pollTimeout(_ now: Int) -> Int32 {
        if stopDeadline == nil && !backlog.isEmpty { return 0 }
        var wake = stopDeadline ?? nextRescan
        if stopDeadline == nil, let due = timers.nextDue { wake = min(wake, due) }
        if stopDeadline == nil, let probe = nextProbeTime { wake = min(wake, probe) }
        // SIGCHLD is the wake-up for ended children, but a second's poll keeps a lost one from stalling them.
        // Idle kept sessions must be ended on time too.
        let ceiling = running.isEmpty && connections.isEmpty ? 3600 : 1
        return Int32(max(0, min(wake - now, ceiling)) * 1000)
    }

    private func waitForEvents(timeout: Int32) {
        var watched = [pollfd(fd: signals.readEnd, events: Int16(POLLIN), revents: 0)]
        for fifo in fifos { watched.append(pollfd(fd: fifo.read, events: Int16(POLLIN), revents: 0)) }
        let children = running.filter { $0.value.stdout >= 0 }.map(\.key)
        for pid in children { watched.append(pollfd(fd: running[pid]!.stdout, events: Int16(POLLIN), revents: 0)) }
        let count = poll(&watched, nfds_t(watched.count), timeout)
        guard count > 0 else {
            if !running.isEmpty { reapChildren() }
            return
        }
        if watched[0].revents != 0 { handleSignals() }
        if watched[1].revents != 0 {
            drain(fifos[0].read)
            scanTodo()
        }
        if watched[2].revents != 0 { handleControl(String(decoding: drain(fifos[1].read), as: UTF8.self)) }
        for (offset, pid) in children.enumerated() where watched[3 + offset].revents != 0 {
            readOutput(of: pid)
        }
    }

    private func handleSignals() {
        for number in signals.drain() {
            switch number {
            case SIGCHLD: reapChildren()
            case SIGHUP: reloadControl()
            case SIGALRM: makeEverythingDue()
            default:
                if stopDeadline == nil {
                    Diagnostics.log("status: stopping, waiting for \(running.count) deliveries")
                    stopDeadline = MailDate.now() + Scheduler.stopGrace
                }
            }
        }
    }

    func reloadControl() {
        do {
            config = try Configuration(home: home)
            // A kept session may lead where a new smtproutes no longer does.
            connections.endAll()
            Diagnostics.log("status: reread control files")
        } catch {
            SendLog.alert("keeping the previous configuration: \(error)")
        }
    }

    /// Opens a FIFO for reading together with a write end of our own, so it never reports end of file.
    func openFIFO(_ path: String) throws(SchedulerError) -> (read: Int32, write: Int32) {
        do {
            let read = try FileIO.open(path, O_RDONLY | O_NONBLOCK)
            let write = try FileIO.open(path, O_WRONLY | O_NONBLOCK)
            return (read, write)
        } catch { throw .system("cannot open \(path)", error) }
    }

    func openFIFOs() throws(SchedulerError) {
        fifos = [try openFIFO(layout.trigger), try openFIFO(layout.controlFIFO)]
    }

    /// Reads everything available on a non-blocking descriptor.
    @discardableResult
    private func drain(_ fd: Int32) -> [UInt8] {
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = read(fd, &buffer, buffer.count)
            if count <= 0 { return result }
            result += buffer[0..<count]
        }
    }

    func logStatus() {
        SendLog.status(local: runningCount[.local]!, localMax: config.concurrencyLocal,
                       remote: runningCount[.remote]!, remoteMax: config.concurrencyRemote)
    }
}

/// Why quail-send cannot run at all.
public enum SchedulerError: Error, CustomStringConvertible {
    case control(ControlError)
    case system(String, Errno)

    public var description: String {
        switch self {
        case .control(let error): "\(error)"
        case .system(let what, let errno): "\(what): \(errno)"
        }
    }
}
