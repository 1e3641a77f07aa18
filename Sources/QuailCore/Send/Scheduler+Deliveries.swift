import Glibc

extension Scheduler {
    /// Moves the recipients whose time has come into the ready queues.
    func releaseDue(_ now: Int) {
        while let id = timers.popDue(now) {
            guard let message = messages[id] else { continue }
            if let due = message.scheduledDue, due <= now { message.scheduledDue = nil }
            guard !message.state.held else { continue }
            if message.inFlight.isEmpty && message.hasUnbouncedFailures {
                settle(message)
                continue
            }
            let due = message.waitingRecipients.filter { message.state.recipients[$0].nextAttempt <= now }
            var remoteByDomain: [String: [Int]] = [:]
            var remoteOrder: [String] = []
            var parkedAny = false
            for index in due {
                let address = message.state.recipients[index].address
                if config.isLocal(address) {
                    message.inFlight.insert(index)
                    ready[.local]!.append(DeliveryTask(id: id, recipients: [index]))
                } else if park(index, of: message) {
                    parkedAny = true
                } else {
                    message.inFlight.insert(index)
                    let domain = Address.domain(of: address)
                    if remoteByDomain[domain] == nil { remoteOrder.append(domain) }
                    remoteByDomain[domain, default: []].append(index)
                }
            }
            // What is held, and until when, must show in quail-qread.
            if parkedAny { try? store.save(id, message.state) }
            // One quail-remote per domain per message, as qmail-remote takes one host and many recipients.
            for domain in remoteOrder {
                ready[.remote]!.append(DeliveryTask(id: id, recipients: remoteByDomain[domain]!))
            }
            schedule(message)
        }
    }

    /// Starts delivery programs while each channel is under its concurrency limit.
    func startDeliveries() {
        for (channel, limit) in [(Channel.local, config.concurrencyLocal), (.remote, config.concurrencyRemote)] {
            while runningCount[channel]! < limit, let task = ready[channel]!.popFirst() {
                guard let message = messages[task.id] else { continue }
                start(task, of: message, on: channel)
            }
        }
    }

    private func start(_ task: DeliveryTask, of message: QueuedMessage, on channel: Channel) {
        let addresses = task.recipients.map { message.state.recipients[$0].address }
        let arguments: [String]
        let program: String
        switch channel {
        case .local:
            program = localProgram
            arguments = [message.state.sender, addresses[0]]
        case .remote:
            program = remoteProgram
            arguments = [Address.domain(of: addresses[0]), message.state.sender] + addresses
        }
        let input: Int32
        do {
            input = try FileIO.open(layout.messPath(message.id), O_RDONLY)
        } catch {
            if error == .noSuchFileOrDirectory {
                SendLog.warning("message \(message.id) vanished from the queue; forgetting it")
                messages[message.id] = nil
            } else {
                record(task.recipients.map { _ in .deferred("cannot open the queued message: \(error) (#4.3.0)") }, for: task.recipients, of: message)
            }
            return
        }
        defer { close(input) }
        lseek(input, off_t(message.state.offset), SEEK_SET)
        let destination = channel == .remote ? config.destination(for: Address.domain(of: addresses[0])) : nil
        // A session an earlier delivery there kept open: the child owns it from here, whatever happens.
        let session = destination.flatMap { connections.take($0) }
        defer { if let session { close(session.fd) } }
        let output: (read: Int32, write: Int32)
        let pid: pid_t
        do {
            // A remote child's stdout is a Unix socket, so that it can hand its session back (KeptSession).
            output = channel == .remote ? try FileIO.makeSocketPair() : try FileIO.makePipe()
            defer { close(output.write) }
            pid = try startChild(channel, program, arguments, stdin: input, stdout: output.write, session: session)
        } catch {
            let text = "cannot run \(program): \(error) (#4.3.0)"
            SendLog.warning("msg \(message.id): \(text)")
            if channel == .remote, let destination = destinations[config.destination(for: Address.domain(of: addresses[0]))] {
                destination.probing = false
                destination.probeMessage = nil
            }
            record(task.recipients.map { _ in .deferred(text) }, for: task.recipients, of: message)
            return
        }
        _ = fcntl(output.read, F_SETFL, fcntl(output.read, F_GETFL) | O_NONBLOCK)
        deliveryCounter += 1
        running[pid] = RunningDelivery(number: deliveryCounter, id: message.id, recipients: task.recipients, channel: channel,
                                       destination: destination, stdout: output.read, sessionBorn: session?.born)
        runningCount[channel]! += 1
        SendLog.starting(deliveryCounter, message.id, channel: channel, to: addresses)
        logStatus()
    }

    /// Starts quail-local or quail-remote. While this process is small, a forked child that runs the program's
    /// code (`LocalDelivery.main`, `RemoteDelivery.main`) is the same child without an exec and a runtime start
    /// (about half of a delivery's CPU here). A large scheduler (a big queue in memory) spawns the program instead:
    /// a fork copies its page tables, and every page it writes while the child lives is copied once more. So does
    /// every quail-send started with `QUAIL_EXEC_DELIVERIES=1`, for an admin who wants a new quail-remote at once.
    /// A kept `session` goes to quail-remote as descriptor 3 with `$QUAILCONNECTION` saying what it is.
    private func startChild(_ channel: Channel, _ program: String, _ arguments: [String], stdin: Int32, stdout: Int32,
                            session: ConnectionCache.Entry?) throws(Errno) -> pid_t {
        // Read once a second, not per delivery: the scheduler grows with its queue, not with one message.
        let now = MailDate.now()
        if residentSize.second != now { residentSize = (ChildProcess.residentBytes(), now) }
        guard !execDeliveries, let resident = residentSize.bytes, resident - codeInHugePages <= Scheduler.forkLimit else {
            // Never pass on a description of our own: descriptor 3 would be whatever the child finds there.
            var environment = ChildProcess.currentEnvironment().filter { !$0.hasPrefix(KeptSession.environmentName + "=") }
            if let session { environment.append("\(KeptSession.environmentName)=\(session.text)") }
            return try ChildProcess.spawn(program, arguments: arguments, environment: environment, stdin: stdin, stdout: stdout,
                                          descriptor3: session?.fd)
        }
        switch channel {
        case .local:
            return try ChildProcess.fork(name: "quail-local", stdin: stdin, stdout: stdout) { LocalDelivery.main(arguments: arguments) }
        case .remote:
            return try ChildProcess.fork(name: "quail-remote", stdin: stdin, stdout: stdout, descriptor3: session?.fd) {
                RemoteDelivery.main(arguments: arguments, handedOver: session?.text)
            }
        }
    }

    /// Reads what a child printed; a delivery completes once its output has ended and its exit status is in.
    func readOutput(of pid: pid_t) {
        guard var delivery = running[pid] else { return }
        if delivery.stdout >= 0 {
            readAvailable(into: &delivery)
            running[pid] = delivery
        }
        if delivery.isComplete {
            complete(pid)
        } else if delivery.stdout < 0 {
            // Output ended, so the child is most likely exiting: collect it now rather than wait for SIGCHLD.
            reapChildren()
        }
    }

    private func readAvailable(into delivery: inout RunningDelivery) {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = delivery.channel == .remote ? receive(into: &buffer, &delivery) : read(delivery.stdout, &buffer, buffer.count)
            if count > 0 {
                // A report is a line per recipient; more than this is a confused child, not a report.
                if delivery.output.count < 1 << 20 { delivery.output += buffer[0..<count] }
                continue
            }
            if count < 0 && (errno == EAGAIN || errno == EINTR) { return }
            close(delivery.stdout)
            delivery.stdout = -1
            return
        }
    }

    /// Reads a remote child's stdout socket; a session it hands back comes with its line (`KeptSession`).
    private func receive(into buffer: inout [UInt8], _ delivery: inout RunningDelivery) -> Int {
        let read = buffer.withUnsafeMutableBytes { try? DescriptorPassing.read(delivery.stdout, into: $0) }
        guard let (count, fd) = read else { return -1 }
        if let fd {
            // One session per delivery; a confused child's second is not kept. Kept at 3 or above, so that
            // handing it to a child as descriptor 3 never clobbers, nor is clobbered by, its stdin or stdout.
            let kept = fd < 3 ? fcntl(fd, F_DUPFD_CLOEXEC, 3) : fd
            if kept != fd { close(fd) }
            // A failed dup leaves -1, which is "none" here too.
            if delivery.returnedSession < 0 { delivery.returnedSession = kept } else if kept >= 0 { close(kept) }
        }
        return count
    }

    /// Collects the exit status of every child that has ended.
    func reapChildren() {
        while true {
            var status: Int32 = 0
            let pid = waitpid(-1, &status, WNOHANG)
            if pid <= 0 { return }
            guard running[pid] != nil else { continue }
            running[pid]!.exitStatus = ChildProcess.exitCode(fromWaitStatus: status)
            // The child has exited, so whatever it wrote is already in the pipe: read it to its end now.
            readOutput(of: pid)
        }
    }

    private func complete(_ pid: pid_t) {
        guard let delivery = running.removeValue(forKey: pid) else { return }
        runningCount[delivery.channel]! -= 1
        let (results, report) = Scheduler.report(of: delivery)
        for result in results { SendLog.result(delivery.number, result) }
        let parkUntil = delivery.destination.flatMap { noteDown(report, at: $0, results: results) }
        var remoteHost = ""
        if case .up(let host) = report { remoteHost = host }
        if let message = messages[delivery.id] {
            record(results, for: delivery.recipients, of: message, parkingUntil: parkUntil, at: delivery.destination, remoteHost: remoteHost)
        }
        if let destination = delivery.destination, !remoteHost.isEmpty || results.contains(where: { if case .delivered = $0 { true } else { false } }) {
            markUp(destination)
        }
        keepSession(of: delivery, remoteHost: remoteHost)
        logStatus()
    }

    /// Keeps the session a finished delivery handed back, for the next delivery to its destination.
    private func keepSession(of delivery: RunningDelivery, remoteHost: String) {
        guard delivery.returnedSession >= 0 else { return }
        let lines = delivery.output.split(separator: 0x0A)
        guard let destination = delivery.destination, !remoteHost.isEmpty, stopDeadline == nil,
              let text = lines.lazy.compactMap({ KeptSession.handoverText(ofLine: String(decoding: $0, as: UTF8.self)) }).last
        else { return ConnectionCache.end(delivery.returnedSession) }
        let now = ConnectionCache.now()
        let entry = ConnectionCache.Entry(fd: delivery.returnedSession, text: text, born: delivery.sessionBorn ?? now, idleSince: now)
        connections.put(entry, for: destination, now: now, limit: config.concurrencyRemote)
    }

    /// What a finished child reported: the result per recipient, and for quail-remote the destination line
    /// after them. For quail-local its exit code decides (qmail-local's contract); a child that died without
    /// a report is a temporary failure.
    static func report(of delivery: RunningDelivery) -> (results: [DeliveryResult], destination: DestinationReport?) {
        let lines = delivery.output.split(separator: 0x0A).map { String(decoding: $0, as: UTF8.self) }
        let status = delivery.exitStatus ?? 111
        let results: [DeliveryResult] = delivery.recipients.indices.map { index in
            let reported = index < lines.count ? DeliveryResult(reportLine: lines[index]) : nil
            if delivery.channel == .local {
                let text = reported?.text ?? "quail-local exited with status \(status) (#4.3.0)"
                switch status {
                case 0: return .delivered(text)
                case 100: return .failed(text)
                default: return .deferred(text)
                }
            }
            return reported ?? .deferred("quail-remote exited with status \(status) without a report (#4.3.0)")
        }
        guard delivery.channel == .remote else { return (results, nil) }
        let destination = lines.dropFirst(delivery.recipients.count).lazy.compactMap(DestinationReport.init(line:)).first
        return (results, destination)
    }
}
