import Foundation
import Glibc
import QuailCore

// Helpers for the operations tests (supervision, install, quick start, smtpd logs): the repository's scripts,
// free loopback ports, a daemontools or runit tree of the repository's service directories, and process-tree
// cleanup that leaves nothing running.

/// The repository this test file belongs to (its scripts and sample control/), whatever the build's scratch path.
enum Repository {
    static let root: String = {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }()

    static func path(_ relative: String) -> String { root + "/" + relative }
}

/// A TCP port on 127.0.0.1 that nothing listens on right now (bound to port 0, then released).
func unusedTCPPort() throws -> UInt16 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw Errno.current }
    defer { close(fd) }
    let any = SocketAddress(octets: [127, 0, 0, 1], port: 0)
    guard any.withSockaddr({ bind(fd, $0, $1) }) == 0, let bound = SocketAddress.of(fd, peer: false) else { throw Errno.current }
    return bound.port
}

/// Whether something accepts TCP connections on 127.0.0.1:`port`.
func acceptsConnections(_ port: UInt16) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    return SocketAddress(octets: [127, 0, 0, 1], port: port).withSockaddr { connect(fd, $0, $1) } == 0
}

/// Every descendant of `root`, children before grandchildren.
func descendants(of root: pid_t) -> [pid_t] {
    var result: [pid_t] = []
    var frontier = [root]
    while let parent = frontier.popLast() {
        let children = childProcesses(of: parent)
        result += children
        frontier += children
    }
    return result
}

/// Whether `pid` is alive: exists and is not a zombie waiting for a reaper that is not us.
func isAlive(_ pid: pid_t) -> Bool {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return false }
    return !status.contains("State:\tZ")
}

/// The real, effective, saved and file-system uids of `pid` from /proc/PID/status.
func processUIDs(_ pid: pid_t) -> [UInt32] {
    let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
    guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Uid:") }) else { return [] }
    return line.split(whereSeparator: { $0 == "\t" || $0 == " " }).dropFirst().compactMap { UInt32($0) }
}

/// The text of `path`, or "" when it cannot be read.
func fileText(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }

/// A supervisor running the repository's `scripts/service` directories on a scan directory of its own.
final class SupervisedServices {
    enum Kind: String, CaseIterable, Sendable, CustomStringConvertible {
        case runit, daemontools
        var description: String { rawValue }
    }

    let kind: Kind
    let scanDirectory: String
    private var scanner: pid_t = -1

    /// Copies `scripts/service/NAME` for each of `services` into `directory/service/`, with `environment` as
    /// the files of each one's `env/` (replacing the repository's defaults).
    init(_ kind: Kind, in directory: String, services: [String: [String: String]]) throws {
        self.kind = kind
        scanDirectory = directory + "/service"
        try FileManager.default.createDirectory(atPath: scanDirectory, withIntermediateDirectories: true)
        for (name, environment) in services {
            let target = scanDirectory + "/" + name
            try FileManager.default.copyItem(atPath: Repository.path("scripts/service/" + name), toPath: target)
            for (variable, value) in environment {
                try (value + "\n").write(toFile: "\(target)/env/\(variable)", atomically: true, encoding: .utf8)
            }
        }
    }

    /// Starts runsvdir or svscan on the scan directory.
    func start() throws {
        let program = try SMTPDaemon.tool(kind == .runit ? "runsvdir" : "svscan")
        for tool in kind == .runit ? ["runsv", "sv", "svlogd"] : ["supervise", "svc", "svstat", "multilog"] {
            _ = try SMTPDaemon.tool(tool)
        }
        let null = try FileIO.open("/dev/null", O_RDWR)
        defer { close(null) }
        var environment = ChildProcess.currentEnvironment().filter { !$0.hasPrefix("QUAIL_") }
        // The supervisors' children find tcpserver, multilog and the rest on PATH.
        if !environment.contains(where: { $0.hasPrefix("PATH=") }) { environment.append("PATH=/usr/local/bin:/usr/bin:/bin") }
        scanner = try ChildProcess.spawn(program, arguments: [scanDirectory], environment: environment, stdin: null, stdout: null, stderr: null)
    }

    func servicePath(_ name: String) -> String { scanDirectory + "/" + name }

    /// The log service's `current` file of `name` (multilog's or svlogd's).
    func logCurrent(_ name: String) -> String { fileText(servicePath(name) + "/log/main/current") }

    /// Sends what `svc -a` / `sv alarm` (and the like) send: `letter` is a, h, t, d or u.
    @discardableResult
    func control(_ name: String, _ letter: Character) throws -> Programs.Outcome {
        if kind == .daemontools {
            return try Programs.run(try SMTPDaemon.tool("svc"), ["-\(letter)", servicePath(name)])
        }
        let command = ["a": "alarm", "h": "hup", "t": "term", "d": "down", "u": "up", "x": "exit"][String(letter)]!
        return try Programs.run(try SMTPDaemon.tool("sv"), [command, servicePath(name)])
    }

    /// The pid of service `name` as its supervisor reports it (`sv status`, `svstat`), nil when it is not up.
    func pid(_ name: String) -> pid_t? {
        let tool = kind == .runit ? "sv" : "svstat"
        let arguments = kind == .runit ? ["status", servicePath(name)] : [servicePath(name)]
        guard let path = try? SMTPDaemon.tool(tool), let outcome = try? Programs.run(path, arguments) else { return nil }
        let text = outcome.stdout
        // runit: "run: DIR: (pid 123) 5s; run: log: ..."; daemontools: "DIR: up (pid 123) 5 seconds".
        guard let range = text.range(of: "(pid ") else { return nil }
        let digits = text[range.upperBound...].prefix { $0.isNumber }
        guard let pid = pid_t(digits), pid > 0 else { return nil }
        return pid
    }

    /// Stops every service and log service and the supervisor, then waits until no process of the tree is left
    /// (SIGKILL for any that outlives 45 s). True when everything stopped by itself.
    @discardableResult
    func stop() -> Bool {
        guard scanner > 0 else { return true }
        let tree = descendants(of: scanner)
        if kind == .runit {
            // runsvdir passes SIGHUP on as SIGTERM to each runsv, which stops its service and log, then exits.
            kill(scanner, SIGHUP)
        } else {
            // svscan would restart what stops: it goes first; then svc -dx stops each service and its supervise.
            kill(scanner, SIGTERM)
            let names = (try? FileManager.default.contentsOfDirectory(atPath: scanDirectory)) ?? []
            for name in names {
                _ = try? Programs.run(try SMTPDaemon.tool("svc"), ["-dx", servicePath(name)])
                _ = try? Programs.run(try SMTPDaemon.tool("svc"), ["-dx", servicePath(name) + "/log"])
            }
        }
        var status: Int32 = 0
        waitpid(scanner, &status, 0)
        scanner = -1
        let stopped = waitUntil(45) { !tree.contains(where: isAlive) }
        for pid in tree where isAlive(pid) { kill(pid, SIGKILL) }
        return stopped
    }

    deinit { stop() }
}
