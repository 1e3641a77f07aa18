import Glibc

extension RemoteDelivery {
    /// Delivers a sample message twice, on a fresh session and then on the session kept from it, to a scripted
    /// server in a child process over a socket pair, and throws the outcome away.
    ///
    /// quail-send calls this once before it forks deliveries. A forked quail-remote inherits the Swift runtime's
    /// caches: the metadata of generic types and the protocol conformances they need, each found the first time
    /// by a scan of every conformance record in the program. The scheduler itself never runs the delivery code,
    /// so every child used to build them itself, and threw them away at its exit: 14 % of a forked delivery's CPU
    /// in the relay benchmark (docs/BENCHMARKS.md). No DNS and no network: a route is only looked up for a name
    /// that has an `[ip]` literal, and a kept session that fails ends the rehearsal instead of trying another.
    /// Returns how many messages the scripted server took: 2 when the whole rehearsal ran.
    @discardableResult
    public static func rehearse(config: Configuration) -> Int {
        guard let (ours, theirs) = try? FileIO.makeSocketPair() else { return 0 }
        let server: pid_t
        do {
            server = try ChildProcess.fork(name: "quail-rehearsal", stdin: theirs, stdout: theirs) { scriptedServer() }
        } catch {
            close(ours)
            close(theirs)
            return 0
        }
        close(theirs)
        rehearse(on: SMTPConnection(adopting: ours, timeout: .seconds(2)), config: config)
        // The server ends at the end of its input, which the connection's release above has given it, or by its
        // alarm: the wait is bounded either way. A death by signal (128 + n) or a failed start (111) took nothing.
        let code = (try? ChildProcess.wait(server)) ?? 0
        return code <= 2 ? Int(code) : 0
    }

    private static let domain = "rehearsal.invalid"

    /// The client's side: what `run` does in a child, minus reading control files and stdin.
    private static func rehearse(on connection: SMTPConnection, config: Configuration) {
        var routed = config
        routed.smtpRoutes = SMTPRoutes()
        routed.smtpRoutes.exact[domain] = .relay(host: "[127.0.0.1]", port: 25)
        let sender = "rehearsal@\(domain)"
        let message = Array("Subject: rehearsal\n\nA message quail-send never sends.\n.leading dot\n".utf8)
        var delivery = RemoteDelivery(config: routed, localAddresses: [])
        _ = delivery.findTargets(for: domain)
        // From here a failure must not fall through to a route: no resolver, no routes.
        delivery.config.smtpRoutes = SMTPRoutes()
        delivery.makeResolver = { () throws(DNSConfigError) in throw .badServer("none in a rehearsal") }

        let client = SMTPClient(me: config.me, sender: sender, recipients: [sender], message: message)
        let (first, extensions) = client.runKeeping(on: connection, host: "rehearsal [127.0.0.1]")
        guard case .spoke(let results) = first, let extensions else { return }
        _ = RemoteReport(results: results, destination: .up(host: "rehearsal", address: "127.0.0.1")).output
        let kept = KeptSession(connection: connection, host: "rehearsal", address: "127.0.0.1", extensions: extensions)
        let (report, again) = delivery.deliver(domain: domain, sender: sender, recipients: [sender], message: message,
                                               reusing: kept)
        _ = report.output
        _ = kept.handoverText
        again?.end()
    }

    /// An SMTP server on stdin and stdout that accepts everything and keeps nothing, until QUIT or the end of
    /// input; its exit code is the number of messages it took.
    private static func scriptedServer() -> Int32 {
        // Whatever happens, quail-send's start-up waits for this process no longer than this.
        alarm(5)
        func say(_ text: String) { try? FileIO.writeAll(STDOUT_FILENO, Array(text.utf8)) }
        say("220 rehearsal ESMTP\r\n")
        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 8192)
        var inData = false
        var messages: Int32 = 0
        while true {
            let count = buffer.withUnsafeMutableBytes { (try? FileIO.read(STDIN_FILENO, into: $0)) ?? 0 }
            if count == 0 { return messages }
            pending += buffer[0..<count]
            while let end = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: pending[..<end], as: UTF8.self)
                pending.removeSubrange(...end)
                if inData {
                    if line == ".\r" {
                        inData = false
                        messages += 1
                        say("250 2.0.0 ok\r\n")
                    }
                    continue
                }
                switch line.prefix(4).uppercased() {
                case "EHLO": say("250-rehearsal\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 10485760\r\n")
                case "DATA":
                    inData = true
                    say("354 go ahead\r\n")
                case "QUIT":
                    say("221 2.0.0 bye\r\n")
                    return messages
                default: say("250 2.0.0 ok\r\n")
                }
            }
        }
    }
}
