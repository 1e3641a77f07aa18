import Glibc

/// `quail-smtpd --listen ADDR:PORT`: accepts connections and serves each in a child process of its own,
/// with the UCSPI environment tcpserver would set, at most `concurrencyincoming` at a time.
/// qmail: tcpserver in front of qmail-smtpd.
///
/// The child is a plain `fork` that runs `SMTPServer` without an `exec`: the listener is single-threaded
/// and holds nothing a session must not see, and skipping the exec (and the dynamic loader) removes most
/// of a connection's start-up cost. The session is as isolated as under tcpserver: its own process.
public final class SMTPListener {
    private let address: SocketAddress
    private let home: QuailHome
    private var children: Set<pid_t> = []
    /// Signals the listener turns into bytes on its pipe; a session child puts them back to the default.
    private static let handled = [SIGCHLD, SIGTERM, SIGINT]

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
            var watched = [pollfd(fd: signals.readEnd, events: Int16(POLLIN), revents: 0),
                           pollfd(fd: listener, events: Int16(POLLIN), revents: 0)]
            if poll(&watched, 2, -1) <= 0 { continue }
            if watched[0].revents != 0 {
                let received = signals.drain()
                reap()
                if received.contains(SIGTERM) || received.contains(SIGINT) { break }
            }
            if watched[1].revents != 0 { accept(on: listener, signals: signals.readEnd) }
        }
        close(listener)
        Diagnostics.log("quail-smtpd: stopped listening; waiting for \(children.count) sessions")
        while !children.isEmpty {
            var status: Int32 = 0
            let pid = waitpid(-1, &status, 0)
            if pid > 0 { children.remove(pid) } else if errno != EINTR { break }
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

    private func accept(on listener: Int32, signals: Int32) {
        let connection = Glibc.accept(listener, nil, nil)
        guard connection >= 0 else { return }
        defer { close(connection) }
        _ = fcntl(connection, F_SETFD, FD_CLOEXEC)
        reap()
        // Read per connection, like every other control file of quail-smtpd; a broken file keeps the default.
        let limit = (try? home.control.positiveNumber("concurrencyincoming", default: 100)) ?? 100
        guard children.count < limit else {
            try? FileIO.writeAll(connection, SMTPReply.tooManyConnections.wire)
            return
        }
        let pid = fork()
        if pid == 0 { serve(connection, closing: [listener, signals]) }
        if pid > 0 {
            children.insert(pid)
        } else {
            Diagnostics.log("quail-smtpd: cannot start a session: \(Errno.current)")
            try? FileIO.writeAll(connection, SMTPReply.configurationProblem.wire)
        }
    }

    /// In the forked child: becomes the session tcpserver would have started, on fds 0 and 1, and exits.
    private func serve(_ connection: Int32, closing inherited: [Int32]) -> Never {
        for number in SMTPListener.handled { signal(number, SIG_DFL) }
        for fd in inherited { close(fd) }
        // The signal pipe's write end is close-on-exec only; without an exec it must go by hand.
        SignalPipe.closeWriteEnd()
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
        exit(SMTPServer(home: home, context: .fromEnvironment()).run())
    }

    private func reap() {
        while true {
            var status: Int32 = 0
            let pid = waitpid(-1, &status, WNOHANG)
            if pid <= 0 { return }
            children.remove(pid)
        }
    }
}
