import Glibc

/// One line per event on stderr, for multilog or svlogd to timestamp and rotate.
///
/// Glibc's `stderr` is a global `var` that Swift 6 rejects, so every diagnostic goes through here.
public enum Diagnostics {
    /// Writes `line` and a newline to stderr in one `write`, so lines of concurrent processes do not mix. Every
    /// control character in it, a line feed too, is escaped (`ControlCharacters`): an address or a server's reply
    /// inside can neither forge a log line nor reach the terminal of whoever reads the log.
    public static func log(_ line: String) {
        var bytes = Array(ControlCharacters.escaped(line).utf8)
        bytes.append(0x0A)
        try? FileIO.writeAll(STDERR_FILENO, bytes)
    }

    /// Logs a text of the program's own that spans lines (an error and the usage), a `log` line per line.
    public static func log(lines text: String) {
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) { log(String(line)) }
    }

    /// Logs `message` prefixed with the program's name and exits with `code`.
    public static func fail(_ program: String, _ message: String, exitCode code: Int32) -> Never {
        log(lines: "\(program): \(message)")
        exit(code)
    }
}
