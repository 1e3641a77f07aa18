import Foundation
import Glibc
import QuailCore

extension TestHome {
    /// A home delivering `example.test` locally.
    static func local(_ name: String = #function) throws -> TestHome {
        let home = try TestHome(name)
        home.control("locals", "example.test")
        return home
    }

    /// Starts quail-send and waits for its first `status:` line, which it logs once it reads the trigger.
    /// A backup for partner.test relaying to its primary on `primary`:`port` by smtproutes (no DNS).
    static func partnerBackup(primary: String = "127.0.0.2", port: UInt16, _ name: String = #function) throws -> TestHome {
        let home = try TestHome(name)
        home.control("rcpthosts", "partner.test")
        home.control("smtproutes", "partner.test:[\(primary)]:\(port)")
        return home
    }

    func startSend() throws -> Daemon {
        let daemon = try Daemon("quail-send", home: self)
        guard waitUntil(20, { daemon.log.contains("status:") }) else {
            throw HarnessError("quail-send did not start: \(daemon.log)")
        }
        return daemon
    }

    /// The report of quail-qstat --json.
    func queueCounts() throws -> (messages: Int, unprocessed: Int) {
        let outcome = try Programs.run("quail-qstat", ["--json"], environment: environment)
        let object = try JSONSerialization.jsonObject(with: Data(outcome.stdout.utf8)) as? [String: Int]
        return (object?["messages"] ?? -1, object?["unprocessed"] ?? -1)
    }

    /// quail-qread --json, one dictionary per message.
    func queueListing() throws -> [[String: Any]] {
        let outcome = try Programs.run("quail-qread", ["--json"], environment: environment)
        return try outcome.stdout.split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] ?? [:]
        }
    }

    /// Whether the queue holds nothing at all.
    func queueIsEmpty() -> Bool { (try? queueCounts())?.messages == 0 }

    func read(_ path: String) -> String {
        (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    }
}

struct HarnessError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Runs a Python snippet with `input` on stdin; returns its stdout, trimmed. Python's `email` package is the
/// independent judge of what quail builds.
func python(_ script: String, input: [UInt8] = []) throws -> String {
    let outcome = try Programs.run("/usr/bin/env", ["python3", "-c", script], stdin: input)
    guard outcome.status == 0 else { throw HarnessError("python failed: \(outcome.stderr)") }
    return outcome.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
}
