import Glibc

/// The destination statuses quail-send publishes under `queue/status/` (`DestinationStatus`): a file per
/// destination, written when a probe or a delivery changes it, and one heartbeat renewed every probe interval that
/// keeps them all fresh while quail-send runs.
extension Scheduler {
    /// A delivery or probe found `name` down, answering `answer`; `since` stays while it stays down.
    func publishDown(_ name: String, answer: String, now: Int) {
        let since: Int = if case .down(let since, _) = published[name] { since } else { now }
        publish(name, .down(since: since, lastAnswer: answer))
    }

    /// A delivery or probe reached `name`; `since` stays while it stays up.
    func publishUp(_ name: String, answer: String, now: Int) {
        let since: Int = if case .up(let since, _) = published[name] { since } else { now }
        publish(name, .up(since: since, lastAnswer: answer))
    }

    /// Replaces the status file by rename, unless it says this already. No fsync: a crash loses a status, and the
    /// start-up removes them all anyway.
    private func publish(_ name: String, _ status: DestinationStatus) {
        guard published[name] != status else { return }
        do {
            try FileIO.replaceDurably(layout.statusPath(name), with: status.encoded, temporary: layout.statusScratch, syncing: false)
            published[name] = status
        } catch {
            SendLog.warning("cannot publish the status of \(name) in \(layout.status): \(error)")
        }
    }

    /// Renews the heartbeat when it is due; returns when the next one is.
    func beat(_ now: Int) {
        guard now >= nextHeartbeat else { return }
        nextHeartbeat = now + config.probeInterval
        do {
            try FileIO.replaceDurably(layout.statusHeartbeat, with: Array("\(getpid()) \(now)\n".utf8), temporary: layout.statusScratch,
                                      syncing: false, modified: now)
        } catch {
            SendLog.warning("cannot renew \(layout.statusHeartbeat): \(error)")
        }
    }

    /// At start-up, before the first heartbeat: what an earlier run published is not known now.
    func removeStatuses() {
        do {
            for name in try FileIO.listDirectory(layout.status) { try FileIO.unlinkIfPresent(layout.status + "/" + name) }
        } catch {
            SendLog.warning("cannot clear \(layout.status): \(error)")
        }
    }
}
