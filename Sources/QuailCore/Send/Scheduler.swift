import Glibc

/// quail-send: the one long-running scheduler. It takes in new messages, hands deliveries to long-lived
/// workers (`quail-remote --worker`, `quail-local --worker`) within the concurrency limits, records results,
/// retries, bounces and cleans up. qmail: qmail-send with qmail-lspawn, qmail-rspawn and qmail-clean.
///
/// Single-threaded: one `poll` loop watches the signal pipe, the trigger and control FIFOs and every
/// worker's stdout; timers live in one heap. Nothing here scans the whole queue in steady state.
public final class Scheduler {
    let home: QuailHome
    let layout: QueueLayout
    let store: QueueStore
    var config: Configuration
    /// The bytes `config` was parsed from, which every worker gets as its configuration.
    var snapshot: ControlSnapshot
    /// Counts reloads: a worker of an older generation retires once idle.
    var generation = 0
    let localProgram: String
    let remoteProgram: String

    var messages: [QueueID: QueuedMessage] = [:]
    var timers = TimerHeap()
    var ready: [Channel: FIFO<DeliveryTask>] = [.local: FIFO(), .remote: FIFO()]
    /// The delivery workers by pid, idle, busy or retiring.
    var workers: [pid_t: Worker] = [:]
    /// Busy workers per channel.
    var runningCount: [Channel: Int] = [.local: 0, .remote: 0]
    var deliveryCounter = 0
    /// Spool files whose envelope is damaged: reported once, then left for the admin.
    var damaged: Set<QueueID> = []
    /// Remote destinations that are down or have messages parked for them.
    var destinations: [String: Destination] = [:]
    /// When an ETRN last flushed each destination, for ETRN's limit of one flush per probe interval.
    var etrnFlushes: [String: Int] = [:]
    /// What each destination's file under `queue/status/` says, as written.
    var published: [String: DestinationStatus] = [:]
    /// When the heartbeat `queue/status/.alive` is renewed next.
    var nextHeartbeat = 0
    /// Taken-in messages whose state is not read yet (start-up).
    var backlog = Backlog()

    let signals: SignalPipe
    /// The spool's owner lock (`QueueLock`), taken at start-up and held until the process exits.
    var spoolLock: QueueLock?
    private var fifos: [(read: Int32, write: Int32)] = []
    private(set) var stopDeadline: Int?
    private var nextRescan = 0

    /// How often `todo/` is listed even without a trigger, in case a wake-up was lost.
    static let rescanInterval = 60
    /// How long SIGTERM waits for running deliveries; DESIGN.md promises an exit within 45 s.
    static let stopGrace = 30

    public init(home: QuailHome) throws(SchedulerError) {
        self.home = home
        layout = home.queue
        store = QueueStore(layout: layout)
        do {
            snapshot = try ControlSnapshot.read(home)
            config = try Configuration(snapshot: snapshot, home: home)
        } catch { throw .control(error) }
        localProgram = ChildProcess.locate("quail-local")
        remoteProgram = ChildProcess.locate("quail-remote")
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
        logStatus()
        while true {
            let now = MailDate.now()
            beat(now)
            if stopDeadline == nil {
                retireIdleWorkers(now: now)
                readBacklog()
                startProbes(now)
                releaseDue(now)
                startDeliveries()
                if now >= nextRescan {
                    scanTodo()
                    nextRescan = now + Scheduler.rescanInterval
                }
            } else if busyWorkers == 0 || now >= stopDeadline! {
                stopWorkers()
                Diagnostics.log("status: exiting")
                return 0
            }
            waitForEvents(timeout: pollTimeout(now))
        }
    }

    private func pollTimeout(_ now: Int) -> Int32 {
        if stopDeadline == nil && !backlog.isEmpty { return 0 }
        var wake = min(stopDeadline ?? nextRescan, nextHeartbeat)
        if stopDeadline == nil, let due = timers.nextDue { wake = min(wake, due) }
        if stopDeadline == nil, let probe = nextProbeTime { wake = min(wake, probe) }
        if stopDeadline == nil, let retirement = nextIdleRetirement { wake = min(wake, retirement) }
        // SIGCHLD is the wake-up for ended workers, but a second's poll keeps a lost one from stalling them.
        let ceiling = busyWorkers == 0 ? 3600 : 1
        return Int32(max(0, min(wake - now, ceiling)) * 1000)
    }

    private func waitForEvents(timeout: Int32) {
        var watched = [pollfd(fd: signals.readEnd, events: Int16(POLLIN), revents: 0)]
        for fifo in fifos { watched.append(pollfd(fd: fifo.read, events: Int16(POLLIN), revents: 0)) }
        let listening = workers.values.filter { $0.results >= 0 }
        for worker in listening { watched.append(pollfd(fd: worker.results, events: Int16(POLLIN), revents: 0)) }
        let count = poll(&watched, nfds_t(watched.count), timeout)
        guard count > 0 else {
            if !workers.isEmpty { reapChildren() }
            return
        }
        if watched[0].revents != 0 { handleSignals() }
        if watched[1].revents != 0 {
            drain(fifos[0].read)
            scanTodo()
        }
        if watched[2].revents != 0 { handleControl(String(decoding: drain(fifos[1].read), as: UTF8.self)) }
        for (offset, worker) in listening.enumerated() where watched[3 + offset].revents != 0 {
            readResults(of: worker)
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
                    Diagnostics.log("status: stopping, waiting for \(busyWorkers) deliveries")
                    for worker in workers.values where worker.delivery == nil { worker.retire() }
                    stopDeadline = MailDate.now() + Scheduler.stopGrace
                }
            }
        }
    }

    /// Rereads the control files. Workers of the old generation retire once idle, so new deliveries run with the
    /// new configuration and the program's binary as it is on disk now; a kept session that may lead where a new
    /// smtproutes no longer does ends with its worker.
    func reloadControl() {
        do {
            let newSnapshot = try ControlSnapshot.read(home)
            config = try Configuration(snapshot: newSnapshot, home: home)
            snapshot = newSnapshot
            generation += 1
            retireIdleWorkers(now: MailDate.now())
            // A parked recipient may wait for a destination a new smtproutes no longer leads to.
            resortParked()
            Diagnostics.log("status: reread control files")
        } catch {
            SendLog.alert("keeping the previous configuration: \(error)")
        }
    }

    var busyWorkers: Int { runningCount[.local]! + runningCount[.remote]! }

    /// At exit: every worker is told to finish; one still busy after the grace period is stopped, and the
    /// recipients it had are retried at the next start (a delivery cut before its end of data delivered nothing).
    private func stopWorkers() {
        if busyWorkers > 0 { SendLog.warning("exiting with \(busyWorkers) deliveries unfinished; they will be retried") }
        for worker in workers.values {
            worker.retire()
            if worker.delivery != nil { kill(worker.pid, SIGTERM) }
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
