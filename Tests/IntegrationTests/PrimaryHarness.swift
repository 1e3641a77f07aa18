import Foundation
import Glibc
import QuailCore

/// A primary MX for tests: Python's aiosmtpd on a loopback address, saving each message it accepts as a file
/// (`MAIL FROM`, then `RCPT TO`s, then the raw DATA bytes as they came over the wire).
final class TestPrimary {
    let host: String
    let port: UInt16
    let directory: String
    private var daemon: Process?

    static let script = """
        import os, sys, time, threading
        from aiosmtpd.controller import Controller
        host, port, directory = sys.argv[1], int(sys.argv[2]), sys.argv[3]
        class Saver:
            async def handle_DATA(self, server, session, envelope):
                name = os.path.join(directory, "%d" % time.time_ns())
                with open(name + ".tmp", "wb") as f:
                    f.write(("MAIL FROM:%s\\n" % envelope.mail_from).encode())
                    for r in envelope.rcpt_tos:
                        f.write(("RCPT TO:%s\\n" % r).encode())
                    f.write(b"\\n")
                    f.write(envelope.original_content)
                os.rename(name + ".tmp", name + ".msg")
                return "250 2.0.0 saved"
        controller = Controller(Saver(), hostname=host, port=port, decode_data=False)
        controller.start()
        print("ready", flush=True)
        threading.Event().wait()
        """

    /// A free TCP port on `host`, found by binding to port 0.
    static func freePort(on host: String) -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        inet_pton(AF_INET, host, &address.sin_addr)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Int32 in
                bind(fd, pointer, length)
                return getsockname(fd, pointer, &length)
            }
        }
        return UInt16(bigEndian: address.sin_port)
    }

    init(host: String = "127.0.0.2", port: UInt16? = nil, directory: String) {
        self.host = host
        self.port = port ?? TestPrimary.freePort(on: host)
        self.directory = directory
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    /// Starts listening; returns once aiosmtpd says it is ready.
    func start() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", TestPrimary.script, host, String(port), directory]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        daemon = process
        let line = output.fileHandleForReading.availableData
        guard String(decoding: line, as: UTF8.self).contains("ready") else { throw HarnessError("aiosmtpd did not start") }
    }

    /// Stops listening (the primary goes down).
    func stop() {
        guard let daemon, daemon.isRunning else { return }
        // SIGKILL: a child started from a test thread may have SIGTERM blocked.
        kill(daemon.processIdentifier, SIGKILL)
        daemon.waitUntilExit()
        self.daemon = nil
    }

    /// The messages received so far, as their saved text.
    var messages: [String] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".msg") }.sorted()
        return names.map { (try? String(contentsOfFile: directory + "/" + $0, encoding: .utf8)) ?? "" }
    }

    deinit { stop() }
}
