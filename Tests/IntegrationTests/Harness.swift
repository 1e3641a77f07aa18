import Foundation
import Glibc
import QuailCore
import Testing

/// Where the built programs are: beside the test runner (`.build/debug`).
enum Programs {
    static let directory: String = {
        URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().path
    }()

    static func path(_ name: String) -> String { directory + "/" + name }

    /// The outcome of a finished program.
    struct Outcome {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs `name` to completion with `stdin` and `environment` added to ours; stdout and stderr are read
    /// before waiting, so a chatty child cannot block on a full pipe.
    static func run(_ name: String, _ arguments: [String] = [], stdin: [UInt8] = [], environment: [String: String] = [:]) throws -> Outcome {
        // A child that exits without reading all its input must not kill the test runner.
        signal(SIGPIPE, SIG_IGN)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: name.hasPrefix("/") ? name : path(name))
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let input = Pipe(), output = Pipe(), errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let writer = Thread {
            try? input.fileHandleForWriting.write(contentsOf: Data(stdin))
            try? input.fileHandleForWriting.close()
        }
        writer.start()
        let errorData = ErrorCollector(errors.fileHandleForReading)
        let out = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Outcome(status: process.terminationStatus, stdout: String(decoding: out, as: UTF8.self), stderr: errorData.text())
    }
}

/// Reads a pipe to its end on a thread of its own.
final class ErrorCollector: @unchecked Sendable {
    private var data = Data()
    private let done = DispatchSemaphore(value: 0)
    init(_ handle: FileHandle) {
        Thread { [self] in
            data = handle.readDataToEndOfFile()
            done.signal()
        }.start()
    }
    func text() -> String {
        done.wait()
        return String(decoding: data, as: UTF8.self)
    }
}

/// A throw-away `$QUAIL_HOME` with `control/`, a created queue and `mail/`.
final class TestHome: Sendable {
    let path: String
    /// The tests run as root in homes of root's: `QUAIL_USER=root` keeps the daemons root there, where without it
    /// they would refuse to start (DESIGN.md, "Start-up").
    var environment: [String: String] { ["QUAIL_HOME": path, "QUAIL_USER": "root"] }
    var queue: QueueLayout { QueueLayout(root: path + "/queue") }

    init(_ name: String = #function) throws {
        let template = NSTemporaryDirectory() + "quail-\(name.filter { $0.isLetter || $0.isNumber }.prefix(40))-XXXXXX"
        var bytes = Array(template.utf8CString)
        guard mkdtemp(&bytes) != nil else { throw Errno.current }
        path = String(decoding: bytes.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        try FileIO.makeDirectories(path + "/control")
        try queue.create()
        control("me", "quail.test")
        // Most tests deliver to whichever user they name, so the test domains take every name: an explicit
        // catch-all, as DESIGN.md asks of a locals domain. Tests of the rule itself write their own file.
        control("validrcptto", "@quail.test", "@example.test")
    }

    /// Writes control file `name` with one line per entry.
    func control(_ name: String, _ lines: String...) {
        #expect(FileManager.default.createFile(atPath: path + "/control/" + name, contents: Data((lines.joined(separator: "\n") + "\n").utf8)),
                "control/\(name) written")
    }

    /// Files in a Maildir's `new/` for `user@domain` under the default maildirroot.
    func maildirNew(_ user: String, _ domain: String) -> [String] {
        let directory = "\(path)/mail/\(domain)/\(user)/new"
        return ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted().map { directory + "/" + $0 }
    }

    /// Runs quail-inject with this home.
    @discardableResult
    func inject(_ message: String, to recipients: [String], from sender: String? = nil) throws -> Programs.Outcome {
        let arguments = (sender.map { ["-f", $0] } ?? []) + recipients
        return try Programs.run("quail-inject", arguments, stdin: Array(message.utf8), environment: environment)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// A long-running program (quail-send) with its stderr collected in a file.
final class Daemon {
    let process = Process()
    let logPath: String

    init(_ name: String, _ arguments: [String] = [], home: TestHome, environment: [String: String] = [:]) throws {
        // `name` is a program of the build, or a path to one elsewhere.
        logPath = home.path + "/\(name.split(separator: "/").last!).log"
        try #require(FileManager.default.createFile(atPath: logPath, contents: nil), "\(logPath) created")
        let log = FileHandle(forWritingAtPath: logPath)!
        process.executableURL = URL(fileURLWithPath: name.hasPrefix("/") ? name : Programs.path(name))
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(home.environment.merging(environment) { $1 }) { $1 }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = log
        process.standardError = log
        try process.run()
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    func signal(_ signal: Int32) { kill(process.processIdentifier, signal) }

    /// Sends SIGTERM and waits for the exit; returns the exit status.
    @discardableResult
    func stop() -> Int32 {
        if process.isRunning {
            signal(SIGTERM)
            process.waitUntilExit()
        }
        return process.terminationStatus
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}

/// Polls `condition` every 20 ms until it holds or `seconds` pass; true when it held.
func waitUntil(_ seconds: Double = 20, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try condition() { return true }
        usleep(20_000)
    }
    return try condition()
}
