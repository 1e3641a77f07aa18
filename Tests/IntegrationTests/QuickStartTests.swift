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
        let logPath = checkout.path + "/run.log"
        let log = try FileIO.open(logPath, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644)
        let null = try FileIO.open("/dev/null", O_RDONLY)
        var environment = ChildProcess.currentEnvironment().filter { !$0.hasPrefix("QUAIL_") }
        if port != 2525 { environment.append("QUAIL_LISTEN=127.0.0.1:\(port)") }
        // setsid: a process group of its own, so that SIGINT reaches it the way a terminal's Ctrl-C does.
        let pid = try ChildProcess.spawn(
            "/usr/bin/setsid", arguments: [checkout.path + "/scripts/run", "--bin", Programs.directory],
            environment: environment, stdin: null, stdout: log, stderr: log)
        close(log)
        close(null)
        var exited = false
        defer {
            if !exited {
                kill(-pid, SIGKILL)
                waitpid(pid, nil, 0)
            }
        }
        let output = { fileText(logPath) }

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
        let tree = descendants(of: pid)
        #expect(tree.count >= 2, "quail-send and quail-smtpd under scripts/run")
        kill(-pid, SIGINT)
        var status: Int32 = 0
        #expect(waitUntil(45) { waitpid(pid, &status, WNOHANG) == pid }, "scripts/run exits after Ctrl-C:\n\(output())")
        exited = true
        #expect(ChildProcess.exitCode(fromWaitStatus: status) == 0, "\(output())")
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
        let logPath = home.path + "/run.log"
        let log = try FileIO.open(logPath, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644)
        let null = try FileIO.open("/dev/null", O_RDONLY)
        var environment = ChildProcess.currentEnvironment().filter { !$0.hasPrefix("QUAIL_") }
        environment += ["QUAIL_HOME=" + home.path, "QUAIL_LISTEN=127.0.0.1:\(port)"]
        // What `&` in a non-interactive shell does: SIGINT ignored, inherited across exec.
        let pid = try ChildProcess.spawn("/usr/bin/setsid", arguments: [
            "/bin/sh", "-c", "trap '' INT; exec \"$0\" --bin \"$1\"", Repository.path("scripts/run"), Programs.directory,
        ], environment: environment, stdin: null, stdout: log, stderr: log)
        close(log)
        close(null)
        var exited = false
        defer {
            if !exited {
                kill(-pid, SIGKILL)
                waitpid(pid, nil, 0)
            }
        }
        let output = { fileText(logPath) }
        try #require(waitUntil(30) { acceptsConnections(port) && output().contains("Ctrl-C stops") }, "\(output())")
        let tree = descendants(of: pid)
        kill(-pid, SIGINT)
        var status: Int32 = 0
        #expect(waitUntil(45) { waitpid(pid, &status, WNOHANG) == pid }, "scripts/run exits after Ctrl-C:\n\(output())")
        exited = true
        #expect(ChildProcess.exitCode(fromWaitStatus: status) == 0, "\(output())")
        #expect(waitUntil(10) { !tree.contains(where: isAlive) }, "every program of the suite is gone")
        #expect(output().contains("scripts/run: stopping"), "\(output())")
        #expect(!output().contains("exited by itself"), "\(output())")
    }
}
