import Glibc

/// One line per event on stderr, for multilog or svlogd to timestamp and rotate.
///
/// Glibc's `stderr` is a global `var` that Swift 6 rejects, so every diagnostic goes through here.
public enum Diagnostics {
    /// Writes `line` and a newline to stderr in one `write`, so lines of concurrent processes do not mix.
    public static func log(_ line: String) {
        var bytes = Array(line.utf8)
        bytes.append(0x0A)
        try? FileIO.writeAll(STDERR_FILENO, bytes)
    }

    /// Logs `message` prefixed with the program's name and exits with `code`.
    public static func fail(_ program: String, _ message: String, exitCode code: Int32) -> Never {
        log("\(program): \(message)")
        exit(code)
    }
}
