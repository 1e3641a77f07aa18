import Foundation
import Glibc
import QuailCore
import Testing

/// A newcomer's first command: every program answers `--help` with its usage on stdout and exit 0, and does
/// nothing else: no home created, no session greeted, no daemon started.
@Suite("--help")
struct HelpTests {
    static let programs = [
        "quail-smtpd", "quail-queue", "quail-send", "quail-remote", "quail-local", "quail-inject", "quail-sendmail",
        "quail-qstat", "quail-qread", "quail-qctl", "quail-mxcheck",
    ]

    @Test(arguments: programs)
    func answersWithUsageAndDoesNothingElse(_ program: String) throws {
        let scratch = try TestHome("help")
        // A home that does not exist: whatever the program would create or open there shows afterwards.
        let home = scratch.path + "/no-home"
        let outPath = scratch.path + "/stdout", errPath = scratch.path + "/stderr"
        let out = try FileIO.open(outPath, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o600)
        let err = try FileIO.open(errPath, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o600)
        let null = try FileIO.open("/dev/null", O_RDONLY)
        var environment = ChildProcess.currentEnvironment().filter { !$0.hasPrefix("QUAIL") && !$0.hasPrefix("RELAYCLIENT=") }
        environment.append("QUAIL_HOME=" + home)
        let pid = try ChildProcess.spawn(Programs.path(program), arguments: ["--help"], environment: environment,
                                         stdin: null, stdout: out, stderr: err)
        close(out)
        close(err)
        close(null)
        var status: Int32 = 0
        let exited = waitUntil(10) { waitpid(pid, &status, WNOHANG) == pid }
        if !exited {
            kill(pid, SIGKILL)
            waitpid(pid, nil, 0)
        }
        let stdout = fileText(outPath), stderr = fileText(errPath)
        try #require(exited, "\(program) --help is still running after 10 s; stdout: \(stdout) stderr: \(stderr)")
        #expect(ChildProcess.exitCode(fromWaitStatus: status) == 0, "stdout: \(stdout) stderr: \(stderr)")
        #expect(stdout.hasPrefix("usage: \(program)"), "stdout: \(stdout)")
        #expect(stdout.hasSuffix("\n") && !stdout.hasSuffix("\n\n"), "one newline at the end: \(stdout)")
        #expect(stderr.isEmpty, "stderr: \(stderr)")
        // quail-smtpd must not have started a session.
        #expect(!stdout.contains("220 "), "a greeting: \(stdout)")
        #expect(!FileManager.default.fileExists(atPath: home), "\(program) --help made \(home)")
    }
}
