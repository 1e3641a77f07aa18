import Foundation
import Glibc
import QuailCore
import Testing

/// `scripts/install` into a temporary prefix and home, with the real `quail` user: the queue's owner and modes,
/// setuid quail-queue for everybody's injections (and only into the install's home), and the installed service
/// directories under runit with the daemons running as `quail`.
@Suite("Install", .serialized)
struct InstallTests {
    @Test func installedSuiteRunsAsQuail() throws {
        try #require(getuid() == 0, "scripts/install creates a user and a setuid program: the tests run as root")
        let hadUser = Privileges.account(Privileges.userName) != nil
        defer { if !hadUser { _ = try? Programs.run("/usr/sbin/userdel", [Privileges.userName]) } }

        let scratch = try TestHome("install")
        chmod(scratch.path, 0o755)  // `nobody` below must reach the programs and the home
        let home = scratch.path + "/home", prefix = scratch.path + "/prefix"
        let install = try Programs.run(Repository.path("scripts/install"), ["--home", home, "--prefix", prefix, "--bin", Programs.directory])
        try #require(install.status == 0, "\(install.stdout)\(install.stderr)")
        let quail = try #require(Privileges.account(Privileges.userName), "the install created the user")
        #expect(quail.uid != 0)
        #expect(fileText(prefix + "/etc/quail/home") == home + "\n")
        let queueProgram = try #require(try FileIO.status(prefix + "/bin/quail-queue"))
        #expect(queueProgram.st_uid == quail.uid && queueProgram.st_mode & 0o7777 == 0o4711)
        expectQueueModes(home + "/queue", owner: quail.uid, expectingFiles: false)

        // Deliveries to other.test wait (nothing listens on its route): their files show the queue's modes.
        let installed = QuailHomeFixture(home)
        installed.control("rcpthosts", "example.test", "other.test")
        installed.control("smtproutes", "other.test:127.0.0.1:\(try unusedTCPPort())")
        installed.control("probeinterval", "3600")
        installed.control("validrcptto", "user@example.test", "root-to@example.test", "nobody-to@example.test")

        // The installed service directories, under runit, on a loopback port, quail-smtpd with its own listener.
        let port = try unusedTCPPort()
        for (variable, value) in ["QUAIL_LISTEN": "127.0.0.1:\(port)", "QUAIL_TCPSERVER": "no"] {
            try (value + "\n").write(toFile: "\(home)/service/quail-smtpd/env/\(variable)", atomically: true, encoding: .utf8)
        }
        let services = try SupervisedServices(.runit, in: scratch.path, services: [:])
        for name in ["quail-send", "quail-smtpd"] {
            try FileManager.default.createSymbolicLink(atPath: services.servicePath(name), withDestinationPath: "\(home)/service/\(name)")
        }
        try services.start()
        defer { #expect(services.stop(), "every supervised process stopped by itself") }
        let sendLog = { services.logCurrent("quail-send") }
        try #require(waitUntil(30) { sendLog().contains("status: local 0/10") }, "\(sendLog())")
        try #require(waitUntil(30) { acceptsConnections(port) }, "\(services.logCurrent("quail-smtpd"))")

        // Both daemons dropped root: every uid in /proc/PID/status is quail's.
        let send = try #require(services.pid("quail-send"))
        let smtpd = try #require(services.pid("quail-smtpd"))
        #expect(processUIDs(send) == Array(repeating: quail.uid, count: 4), "quail-send: \(processUIDs(send))")
        #expect(processUIDs(smtpd) == Array(repeating: quail.uid, count: 4), "quail-smtpd: \(processUIDs(smtpd))")
        #expect(sendLog().contains("quail-send: running as quail (uid \(quail.uid)"), "\(sendLog())")

        // SMTP in: the session ran as quail, so its quail-queue says uid quail.
        let swaks = try Programs.run(try SMTPDaemon.tool("swaks"), [
            "--server", "127.0.0.1:\(port)", "--timeout", "20", "--from", "s@client.test", "--to", "user@example.test",
        ])
        #expect(swaks.status == 0, "\(swaks.stdout)")
        #expect(waitUntil(20) { installed.maildirNew("user").count == 1 }, "\(sendLog())")
        #expect(sendLog().contains("from <s@client.test> qp "), "\(sendLog())")
        #expect(sendLog().contains(" uid \(quail.uid)\n"), "\(sendLog())")

        // Injections by root and by an ordinary user go through the setuid quail-queue.
        let inject = prefix + "/bin/quail-inject"
        let byRoot = try Programs.run(inject, ["root-to@example.test"], stdin: Array("Subject: root\n\nhi\n".utf8), environment: ["QUAIL_HOME": home])
        #expect(byRoot.status == 0, "\(byRoot.stderr)")
        #expect(waitUntil(20) { installed.maildirNew("root-to").count == 1 }, "\(sendLog())")
        let asNobody = ["--reuid=nobody", "--regid=nogroup", "--clear-groups", "env", "QUAIL_HOME=\(home)", inject]
        let byNobody = try Programs.run("/usr/bin/setpriv", asNobody + ["nobody-to@example.test"], stdin: Array("Subject: nobody\n\nhi\n".utf8))
        #expect(byNobody.status == 0, "\(byNobody.stderr)")
        #expect(waitUntil(20) { installed.maildirNew("nobody-to").count == 1 }, "\(sendLog())")
        #expect(sendLog().contains(" uid 65534\n") && sendLog().contains(" uid 0\n"), "\(sendLog())")
        for file in installed.maildirNew("user") + installed.maildirNew("root-to") {
            #expect(try FileIO.status(file)?.st_uid == quail.uid, "\(file) belongs to quail")
        }

        // The setuid quail-queue lends quail's rights to the install's home only: a queue of quail's elsewhere
        // is written with the caller's own rights, which `nobody` does not have.
        let elsewhere = scratch.path + "/elsewhere"
        try QueueLayout(root: elsewhere + "/queue").create()
        _ = try Programs.run("/bin/chown", ["-R", Privileges.userName, elsewhere])
        chmod(elsewhere, 0o755)
        let misdirected = try Programs.run(
            "/usr/bin/setpriv", ["--reuid=nobody", "--regid=nogroup", "--clear-groups", "env", "QUAIL_HOME=\(elsewhere)", prefix + "/bin/quail-queue"],
            stdin: Array("Subject: x\n\nx\n".utf8))
        #expect(misdirected.status != 0)
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: elsewhere + "/queue/todo")) ?? ["?"]).isEmpty)

        // A message that waits: its spool and state files are quail's, 0600, in 0700 directories.
        let waiting = try Programs.run(inject, ["user@other.test"], stdin: Array("Subject: wait\n\nwait\n".utf8), environment: ["QUAIL_HOME": home])
        #expect(waiting.status == 0)
        #expect(waitUntil(20) { sendLog().contains("deferral:") }, "\(sendLog())")
        expectQueueModes(home + "/queue", owner: quail.uid, expectingFiles: true)
    }

    /// Every directory under `root` is 0700 and everything else 0600, all owned by `owner`.
    private func expectQueueModes(_ root: String, owner: uid_t, expectingFiles: Bool, sourceLocation: SourceLocation = #_sourceLocation) {
        var files = 0
        let walker = FileManager.default.enumerator(atPath: root)
        var paths = [root]
        while let relative = walker?.nextObject() as? String { paths.append(root + "/" + relative) }
        for path in paths {
            guard let info = try? FileIO.status(path) else { continue }
            let isDirectory = info.st_mode & S_IFMT == S_IFDIR
            if info.st_mode & S_IFMT == S_IFREG { files += 1 }
            #expect(info.st_mode & 0o7777 == (isDirectory ? 0o700 : 0o600), "\(path): \(String(info.st_mode & 0o7777, radix: 8))", sourceLocation: sourceLocation)
            #expect(info.st_uid == owner, "\(path) belongs to uid \(info.st_uid)", sourceLocation: sourceLocation)
        }
        if expectingFiles { #expect(files >= 2, "a spool file and a state record in \(root)", sourceLocation: sourceLocation) }
    }
}

/// Control files and Maildirs of an installed home (root-owned control/, quail's mail/).
struct QuailHomeFixture {
    let path: String
    init(_ path: String) { self.path = path }

    func control(_ name: String, _ lines: String...) {
        #expect(FileManager.default.createFile(atPath: path + "/control/" + name, contents: Data((lines.joined(separator: "\n") + "\n").utf8)),
                "control/\(name) written")
    }

    func maildirNew(_ user: String, _ domain: String = "example.test") -> [String] {
        let directory = "\(path)/mail/\(domain)/\(user)/new"
        return ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).map { directory + "/" + $0 }
    }
}
