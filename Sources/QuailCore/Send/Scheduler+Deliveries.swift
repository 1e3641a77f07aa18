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

    /// Hands ready tasks to workers while each channel is under its concurrency limit.
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
        let path = layout.messPath(message.id)
        if access(path, F_OK) != 0 && errno == ENOENT {
            SendLog.warning("message \(message.id) vanished from the queue; forgetting it")
            messages[message.id] = nil
            return
        }
        let destination = channel == .remote ? config.destination(for: Address.domain(of: addresses[0])) : nil
        let request = WorkerFrame.deliver(path: path, offset: message.state.offset, sender: message.state.sender, recipients: addresses)
        let worker: Worker
        do {
            worker = try idleWorker(channel, for: destination)
        } catch {
            let text = "cannot run \(program(for: channel)): \(error) (#4.3.0)"
            SendLog.warning("msg \(message.id): \(text)")
            if let destination, let known = destinations[destination] {
                known.probing = false
                known.probeMessage = nil
            }
            record(task.recipients.map { _ in .deferred(text) }, for: task.recipients, of: message)
            return
        }
        deliveryCounter += 1
        worker.delivery = RunningDelivery(number: deliveryCounter, id: message.id, recipients: task.recipients, channel: channel,
                                          destination: destination)
        runningCount[channel]! += 1
        SendLog.starting(deliveryCounter, message.id, channel: channel, to: addresses)
        logStatus()
        // A worker that died since its last result reads EPIPE here; its end is noticed and the delivery deferred.
        if !worker.send(request) { worker.retire() }
    }

    func program(for channel: Channel) -> String { channel == .local ? localProgram : remoteProgram }

    /// The idle worker to give a delivery to `destination`: one that keeps a session there, else one that keeps
    /// none, else a new one while the channel has room, else any idle one (it ends its session elsewhere).
    private func idleWorker(_ channel: Channel, for destination: String?) throws(Errno) -> Worker {
        let idle = workers.values.filter { $0.channel == channel && $0.isIdle }
        if let destination, let same = idle.first(where: { $0.kept == destination }) { return same }
        if let free = idle.first(where: { $0.kept == nil }) { return free }
        let live = workers.values.filter { $0.channel == channel && !$0.isRetiring }.count
        if let any = idle.first, live >= limit(of: channel) { return any }
        let worker = try Worker.start(program(for: channel), channel: channel, snapshot: snapshot, generation: generation,
                                      now: MailDate.now())
        workers[worker.pid] = worker
        return worker
    }

    func limit(of channel: Channel) -> Int { channel == .local ? config.concurrencyLocal : config.concurrencyRemote }

    /// Reads what a worker wrote: each result completes its delivery. A worker whose output ended is gone or
    /// going; once its exit status is in too, a delivery it left unfinished is deferred.
    func readResults(of worker: Worker) {
        let (frames, _) = worker.readResults()
        for frame in frames {
            guard case .result(let report, let kept) = frame, let delivery = worker.delivery.take() else {
                SendLog.warning("worker \(worker.pid) (\(worker.channel.rawValue)) sent a frame it was not asked for; retiring it")
                worker.retire()
                continue
            }
            worker.kept = kept
            worker.served += 1
            worker.idleSince = MailDate.now()
            if worker.served >= Worker.maximumDeliveries || worker.generation != generation || stopDeadline != nil {
                worker.retire()
            }
            complete(delivery, output: report, exitStatus: nil)
        }
        if worker.results < 0 && worker.exitStatus == nil { reapChildren() }
        finishIfGone(worker)
    }

    /// Collects the exit status of every child that has ended.
    func reapChildren() {
        while true {
            var status: Int32 = 0
            let pid = waitpid(-1, &status, WNOHANG)
            if pid <= 0 { return }
            guard let worker = workers[pid] else { continue }
            worker.exitStatus = ChildProcess.exitCode(fromWaitStatus: status)
            // It has exited, so whatever it wrote is in the pipe already: read it to its end now.
            if worker.results >= 0 { readResults(of: worker) } else { finishIfGone(worker) }
        }
    }

    /// Forgets a worker that has exited and whose output has ended; the delivery it was doing is deferred.
    private func finishIfGone(_ worker: Worker) {
        guard worker.isGone, workers.removeValue(forKey: worker.pid) != nil else { return }
        worker.retire()
        guard let delivery = worker.delivery.take() else { return }
        let status = worker.exitStatus ?? 111
        SendLog.warning("delivery \(delivery.number): the \(delivery.channel.rawValue) worker \(worker.pid) exited with status \(status) before its result")
        complete(delivery, output: nil, exitStatus: status)
    }

    /// Retires workers idle for `Worker.idleLimit`, and every idle one of an older generation.
    func retireIdleWorkers(now: Int) {
        for worker in workers.values where worker.isIdle {
            if worker.generation != generation || now - worker.idleSince >= Worker.idleLimit { worker.retire() }
        }
    }

    /// When the next idle worker retires; nil when none is idle.
    var nextIdleRetirement: Int? {
        workers.values.filter(\.isIdle).map { $0.idleSince + Worker.idleLimit }.min()
    }

    private func complete(_ delivery: RunningDelivery, output: [UInt8]?, exitStatus: Int32?) {
        runningCount[delivery.channel]! -= 1
        let (results, report) = Scheduler.report(of: delivery, output: output, exitStatus: exitStatus)
        for result in results { SendLog.result(delivery.number, result) }
        let parkUntil = delivery.destination.flatMap { noteDown(report, at: $0, results: results) }
        var remoteHost = ""
        if case .up(let host, let tls) = report {
            remoteHost = host
            SendLog.tls(delivery.number, host: host, tls ?? "none")
        }
        if let message = messages[delivery.id] {
            record(results, for: delivery.recipients, of: message, parkingUntil: parkUntil, at: delivery.destination, remoteHost: remoteHost)
        }
        if let destination = delivery.destination, !remoteHost.isEmpty || results.contains(where: { if case .delivered = $0 { true } else { false } }) {
            // The last answer: a delivery's reply first, else whatever the host said to the recipients.
            let delivered = results.first { if case .delivered = $0 { true } else { false } }
            markUp(destination, answer: (delivered ?? results.first)?.text ?? remoteHost)
        }
        logStatus()
    }

    /// What a worker reported: the result per recipient, and for quail-remote the destination line after them.
    /// A worker that died without a report (`output` nil) leaves every recipient deferred: nothing is lost, and
    /// nothing is bounced for it.
    static func report(of delivery: RunningDelivery, output: [UInt8]?, exitStatus: Int32?)
        -> (results: [DeliveryResult], destination: DestinationReport?)
    {
        let lines = (output ?? []).split(separator: 0x0A).map { String(decoding: $0, as: UTF8.self) }
        let program = delivery.channel == .local ? "quail-local" : "quail-remote"
        let missing = DeliveryResult.deferred("\(program) exited with status \(exitStatus ?? 111) without a report (#4.3.0)")
        let results: [DeliveryResult] = delivery.recipients.indices.map { index in
            (index < lines.count ? DeliveryResult(reportLine: lines[index]) : nil) ?? missing
        }
        guard delivery.channel == .remote else { return (results, nil) }
        let destination = lines.dropFirst(delivery.recipients.count).lazy.compactMap(DestinationReport.init(line:)).first
        return (results, destination)
    }
}
