import Glibc

/// `quail-smtpd --listen ADDR:PORT`: accepts connections and serves each in a session process, with the UCSPI
/// environment tcpserver would set, at most `concurrencyincoming` at a time. qmail: tcpserver in front of
/// qmail-smtpd.
///
/// A session process is a plain `fork` that runs `SMTPServer` without an `exec`: the listener is
/// single-threaded and holds nothing a session must not see. When its session ends the process does not exit:
/// it tells the listener it is idle and waits for the next connection, passed over a Unix socket, so that a
/// connection costs neither a fork nor an exit nor the page faults of a fresh process (Postfix's smtpd works the
/// same way, `max_use` and `max_idle`). It serves one connection at a time, as isolated from the other
/// connections as under tcpserver, and exits after `maximumUses` sessions or `idleLifetime` seconds unused.
public final class SMTPListener {
    private let address: SocketAddress
    private let home: QuailHome
    /// The session processes by pid, each with the listener's end of its channel.
    private var workers: [pid_t: Worker] = [:]
    /// Signals the listener turns into bytes on its pipe; a session process puts them back to the default.
    private static let handled = [SIGCHLD, SIGTERM, SIGINT]
    /// Sessions one process serves before it exits (Postfix: max_use 100).
    public static let maximumUses = 100
    /// Seconds an idle session process waits for a connection before the listener retires it.
    public static let idleLifetime = 60
    /// What a session process writes on its channel when its session has ended.
    private static let idleByte: UInt8 = 0x69

    private struct Worker {
        /// The listener's end of the socket pair: connections go out, idle bytes come in.
        var channel: Int32
        /// When its last session ended; nil while it serves one.
        var idleSince: Int?
    }

    public init(address: SocketAddress, home: QuailHome) {
        self.address = address
        self.home = home
    }

    /// Listens until SIGTERM, then lets running sessions finish; returns the exit code. `afterBinding` runs once
    /// the socket is bound and before the first connection: the place to give up root (port 25 needs it to bind,
    /// nothing after does, and the sessions are forked from this process).
    public func run(afterBinding: () -> Void = {}) -> Int32 {
        signal(SIGPIPE, SIG_IGN)
        let listener: Int32
        do { listener = try openSocket() } catch {
            Diagnostics.log("quail-smtpd: fatal: cannot listen on \(address): \(error)")
            return 111
        }
        afterBinding()
        guard let signals = try? SignalPipe(SMTPListener.handled) else {
            Diagnostics.log("quail-smtpd: fatal: cannot create the signal pipe")
            return 111
        }
        while true {
            let channels = workers.map { (pid: $0.key, fd: $0.value.channel) }
            var watched = [pollfd(fd: signals.readEnd, events: Int16(POLLIN), revents: 0),
                           pollfd(fd: listener, events: Int16(POLLIN), revents: 0)]
            watched += channels.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
            if poll(&watched, nfds_t(watched.count), pollTimeout()) < 0 { continue }
            if watched[0].revents != 0 {
                let received = signals.drain()
                reap()
                if received.contains(SIGTERM) || received.contains(SIGINT) { break }
            }
            for (index, channel) in channels.enumerated() where watched[index + 2].revents != 0 {
                heardFrom(channel.pid)
            }
            retireIdleWorkers()
            if watched[1].revents != 0 { accept(on: listener) }
        }
        close(listener)
        // Idle processes see their channel close and exit; busy ones exit when their session ends and they
        // find nobody to report to.
        let sessions = workers.values.count(where: { $0.idleSince == nil })
        for pid in Array(workers.keys) { retire(pid) }
        Diagnostics.log("quail-smtpd: stopped listening; waiting for \(sessions) sessions")
        while true {
            var status: Int32 = 0
            if waitpid(-1, &status, 0) < 0 && errno != EINTR { break }
        }
        return 0
    }

    private func openSocket() throws(Errno) -> Int32 {
        let fd = socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Errno.current }
        var on: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        // The kernel's largest backlog (net.core.somaxconn caps it), not 128: in a burst of connections while the
        // sessions' start-up holds the CPU, a full accept queue drops handshakes, and those clients then wait on a
        // half-open connection for a minute, never told 421 (scripts/load, 1000 at once: 250 of them).
        guard address.withSockaddr({ bind(fd, $0, $1) }) == 0, listen(fd, SOMAXCONN) == 0 else {
            let error = Errno.current
            close(fd)
            throw error
        }
        // Port 0 picks a free port: say which one, so that scripts and tests can connect.
        Diagnostics.log("listening on \(SocketAddress.of(fd, peer: false) ?? address)")
        return fd
    }

    private func accept(on listener: Int32) {
        let connection = Glibc.accept(listener, nil, nil)
        guard connection >= 0 else { return }
        defer { close(connection) }
        _ = fcntl(connection, F_SETFD, FD_CLOEXEC)
        reap()
        // Read per connection, like every other control file of quail-smtpd; a broken file keeps the default.
        let limit = (try? home.control.positiveNumber("concurrencyincoming", default: 100)) ?? 100
        guard workers.values.count(where: { $0.idleSince == nil }) < limit else {
            try? FileIO.writeAll(connection, SMTPReply.tooManyConnections.wire)
            return
        }
        // The process idle for the shortest time: its pages are the likeliest to be warm.
        while let pid = workers.lazy.filter({ $0.value.idleSince != nil }).max(by: { $0.value.idleSince! < $1.value.idleSince! })?.key {
            do {
                try DescriptorPassing.send(connection, over: workers[pid]!.channel)
                workers[pid]!.idleSince = nil
                return
            } catch {
                retire(pid)
            }
        }
        startWorker(serving: connection)
    }

    /// Forks a session process for `connection`, with a channel to get later connections over.
    private func startWorker(serving connection: Int32) {
        var ends: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0, &ends) == 0 else {
            Diagnostics.log("quail-smtpd: cannot start a session: \(Errno.current)")
            try? FileIO.writeAll(connection, SMTPReply.configurationProblem.wire)
            return
        }
        let pid = fork()
        if pid == 0 {
            close(ends[0])
            work(first: connection, channel: ends[1])
        }
        close(ends[1])
        if pid > 0 {
            workers[pid] = Worker(channel: ends[0], idleSince: nil)
        } else {
            close(ends[0])
            Diagnostics.log("quail-smtpd: cannot start a session: \(Errno.current)")
            try? FileIO.writeAll(connection, SMTPReply.configurationProblem.wire)
        }
    }

    /// The session process: serves `first`, then every connection the listener passes, and exits.
    private func work(first: Int32, channel: Int32) -> Never {
        for number in SMTPListener.handled { signal(number, SIG_DFL) }
        // The signal pipe's write end is close-on-exec only; without an exec it must go by hand, and so must the
        // listening socket and the other processes' channels (holding one would hide its close from its owner).
        SignalPipe.closeWriteEnd()
        ChildProcess.closeDescriptors(from: 3, except: [first, channel])
        let nowhere = open("/dev/null", O_RDWR | O_CLOEXEC)
        var connection = first
        for use in 1...SMTPListener.maximumUses {
            let last = use == SMTPListener.maximumUses
            var reported = false
            var told = false
            // The listener hears of the end before the client sees its last reply: it counts open sessions only,
            // and a client that connects again at once finds this process ready rather than a slot taken. After
            // the last use the channel closes instead, and the listener counts the slot free.
            let report = {
                guard !reported else { return }
                reported = true
                if last {
                    close(channel)
                } else {
                    var idle = SMTPListener.idleByte
                    told = write(channel, &idle, 1) == 1
                }
            }
            serve(connection, ended: report)
            report()
            if last { break }
            dup2(nowhere, STDIN_FILENO)
            dup2(nowhere, STDOUT_FILENO)
            guard told, let next = DescriptorPassing.receive(over: channel) else { break }
            connection = next
        }
        exit(0)
    }

    /// One session on `connection`, as tcpserver would start it: the connection on fds 0 and 1, the UCSPI
    /// variables set for it.
    private func serve(_ connection: Int32, ended: @escaping () -> Void) {
        dup2(connection, STDIN_FILENO)
        dup2(connection, STDOUT_FILENO)
        close(connection)
        // The UCSPI variables tcpserver sets; a $QUAILQUEUE filter started by the session reads them too.
        for name in ["TCPREMOTEHOST", "TCPREMOTEINFO", "TCPLOCALHOST"] { unsetenv(name) }
        var ucspi = ["PROTO": "TCP"]
        if let remote = SocketAddress.of(STDIN_FILENO, peer: true) {
            ucspi["TCPREMOTEIP"] = remote.host
            ucspi["TCPREMOTEPORT"] = String(remote.port)
        }
        if let here = SocketAddress.of(STDIN_FILENO, peer: false) {
            ucspi["TCPLOCALIP"] = here.host
            ucspi["TCPLOCALPORT"] = String(here.port)
        }
        for (name, value) in ucspi { setenv(name, value, 1) }
        _ = SMTPServer(home: home, context: .fromEnvironment(), ended: ended).run()
    }

    /// A byte or an end of file on a session process's channel: idle again, or gone.
    private func heardFrom(_ pid: pid_t) {
        guard let worker = workers[pid] else { return }
        var byte: UInt8 = 0
        if read(worker.channel, &byte, 1) == 1 && byte == SMTPListener.idleByte {
            workers[pid]!.idleSince = MailDate.now()
        } else {
            retire(pid)
        }
    }

    /// Closes the channel of `pid`: an idle process then exits, a busy one exits when its session ends.
    private func retire(_ pid: pid_t) {
        guard let worker = workers.removeValue(forKey: pid) else { return }
        close(worker.channel)
    }

    private func retireIdleWorkers() {
        let now = MailDate.now()
        for (pid, worker) in workers {
            if let since = worker.idleSince, now - since >= SMTPListener.idleLifetime { retire(pid) }
        }
    }

    /// Milliseconds until the oldest idle process is due to retire; -1 (forever) when none is idle.
    private func pollTimeout() -> Int32 {
        guard let oldest = workers.values.compactMap(\.idleSince).min() else { return -1 }
        return Int32(max(0, oldest + SMTPListener.idleLifetime - MailDate.now()) * 1000 + 100)
    }

    private func reap() {
        while true {
            var status: Int32 = 0
            let pid = waitpid(-1, &status, WNOHANG)
            if pid <= 0 { return }
            retire(pid)
        }
    }
}
