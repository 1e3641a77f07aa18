import Foundation
import Glibc
import QuailCore
import Testing

/// README's first lines, as a new user meets them: `scripts/run` from a fresh checkout starts the suite on
/// 127.0.0.1:2525 with a home of its own, swaks mail lands in a Maildir, mail for the partner it backs up is
/// held, and Ctrl-C stops everything.
@Suite("Quick start")
struct QuickStartTests {
    @Test func scriptsRunFromFreshCheckout() throws {
        // A checkout as a clone has it: scripts/run and the sample control/, no run/ yet. --bin reuses this
        // build instead of a release build of its own (what plain `scripts/run` does first).
        let checkout = try TestHome("quickstart")
        let files = FileManager.default
        for leftover in ["control", "queue"] { try files.removeItem(atPath: checkout.path + "/" + leftover) }
        try files.createDirectory(atPath: checkout.path + "/scripts", withIntermediateDirectories: true)
        try files.copyItem(atPath: Repository.path("scripts/run"), toPath: checkout.path + "/scripts/run")
        try files.copyItem(atPath: Repository.path("control"), toPath: checkout.path + "/control")

        // The README's port, unless something on this machine already has it.
        let port: UInt16 = acceptsConnections(2525) ? try unusedTCPPort() : 2525
        let run = try RunScript([checkout.path + "/scripts/run", "--bin", Programs.directory], log: checkout.path + "/run.log",
                                environment: port == 2525 ? [] : ["QUAIL_LISTEN=127.0.0.1:\(port)"])
        let output = run.output

        try #require(waitUntil(30) { acceptsConnections(port) }, "SMTP on 127.0.0.1:\(port):\n\(output())")
        #expect(output().contains("SMTP on 127.0.0.1:\(port)"), "\(output())")
        let sent = try Programs.run(try SMTPDaemon.tool("swaks"), [
            "--server", "127.0.0.1:\(port)", "--timeout", "20", "--to", "user@example.test", "--from", "me@client.test",
            "--body", "quick start",
        ])
        #expect(sent.status == 0, "\(sent.stdout)\(sent.stderr)")
        let maildir = checkout.path + "/run/home/mail/example.test/user/new"
        #expect(waitUntil(20) { ((try? FileManager.default.contentsOfDirectory(atPath: maildir)) ?? []).count == 1 }, "\(output())")
        #expect(fileText(checkout.path + "/run/.gitignore") == "*\n", "run/ stays out of git")

        // The sample backs up partner.test, and its primary (127.0.0.1:2526 in smtproutes) is not running: the
        // mail is held for it, not bounced. A bounce would go to the local sender and land in its Maildir.
        #expect(!acceptsConnections(2526), "nothing may listen on the sample's partner.test port")
        let held = try Programs.run(try SMTPDaemon.tool("swaks"), [
            "--server", "127.0.0.1:\(port)", "--timeout", "20", "--to", "someone@partner.test", "--from", "user@example.test",
            "--body", "for the partner",
        ])
        #expect(held.status == 0, "\(held.stdout)\(held.stderr)")
        let qread = { (try? Programs.run("quail-qread", environment: ["QUAIL_HOME": checkout.path + "/run/home"]).stdout) ?? "" }
        #expect(waitUntil(30) { qread().contains("\tremote\tsomeone@partner.test\t(1 attempts") }, "\(qread())\n\(output())")
        #expect(qread().contains("Connection refused"), "held because its primary is down: \(qread())")
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: maildir)) ?? []).count == 1, "no bounce: \(output())")

        // Ctrl-C: SIGINT to the whole process group; everything exits, scripts/run with 0.
        let tree = descendants(of: run.pid)
        #expect(tree.count >= 2, "quail-send and quail-smtpd under scripts/run")
        #expect(run.interrupt() == 0, "scripts/run exits 0 after Ctrl-C:\n\(output())")
        #expect(waitUntil(10) { !tree.contains(where: isAlive) }, "every program of the suite is gone")
        #expect(output().contains("scripts/run: stopped"), "\(output())")
        #expect(!output().contains("exited by itself"), "Ctrl-C stopped them: \(output())")
        #expect(!acceptsConnections(port))
    }

    /// `scripts/run &` from a script: bash starts it with SIGINT ignored, which it then cannot trap, while
    /// quail-send and quail-smtpd still stop on SIGINT. Ctrl-C to the group must read as a stop, not as a
    /// program that exited by itself.
    @Test func ctrlCStopsARunStartedInTheBackground() throws {
        let home = try TestHome("quickstartbackground")
        for (name, value) in [("locals", "example.test"), ("rcpthosts", "example.test")] { home.control(name, value) }
        let port = try unusedTCPPort()
        // What `&` in a non-interactive shell does: SIGINT ignored, inherited across exec.
        let run = try RunScript(["/bin/sh", "-c", "trap '' INT; exec \"$0\" --bin \"$1\"", Repository.path("scripts/run"), Programs.directory],
                                log: home.path + "/run.log", environment: ["QUAIL_HOME=" + home.path, "QUAIL_LISTEN=127.0.0.1:\(port)"])
        let output = run.output
        try #require(waitUntil(30) { acceptsConnections(port) && output().contains("Ctrl-C stops") }, "\(output())")
        let tree = descendants(of: run.pid)
        #expect(run.interrupt() == 0, "scripts/run exits 0 after Ctrl-C:\n\(output())")
        #expect(waitUntil(10) { !tree.contains(where: isAlive) }, "every program of the suite is gone")
        #expect(output().contains("scripts/run: stopping"), "\(output())")
        #expect(!output().contains("exited by itself"), "\(output())")
    }
}

/// `scripts/run` (or a shell line that runs it) in a process group of its own, as a terminal starts it, its
/// output in `log`, the environment ours without QUAIL_ variables plus `environment`. Killed if a test ends
/// without stopping it.
final class RunScript {
    let pid: pid_t
    let logPath: String
    private var exited = false

    init(_ arguments: [String], log logPath: String, environment: [String]) throws {
        self.logPath = logPath
        let log = try FileIO.open(logPath, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644)
        let null = try FileIO.open("/dev/null", O_RDONLY)
        defer { close(log); close(null) }
        let inherited = ChildProcess.currentEnvironment().filter { !$0.hasPrefix("QUAIL_") }
        // setsid: a process group of its own, so that SIGINT reaches it the way a terminal's Ctrl-C does.
        pid = try ChildProcess.spawn("/usr/bin/setsid", arguments: arguments, environment: inherited + environment,
                                     stdin: null, stdout: log, stderr: log)
    }

    func output() -> String { fileText(logPath) }

    /// Ctrl-C: SIGINT to the whole group; the script's exit code, nil when it did not exit within 45 s.
    func interrupt() -> Int32? {
        kill(-pid, SIGINT)
        var status: Int32 = 0
        guard waitUntil(45, { waitpid(pid, &status, WNOHANG) == pid }) else { return nil }
        exited = true
        return ChildProcess.exitCode(fromWaitStatus: status)
    }

    deinit {
        if !exited {
            kill(-pid, SIGKILL)
            waitpid(pid, nil, 0)
        }
    }
}
