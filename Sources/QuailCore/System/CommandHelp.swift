import Glibc

/// `PROGRAM --help`: every program answers with its usage on stdout and exit 0, before it reads a control file,
/// touches the home or the queue, drops privileges or starts work. Each program's usage text lives beside its
/// command code; its `main` calls `answer` first.
public enum CommandHelp {
    /// The one option every program knows.
    public static let option = "--help"

    /// Whether `arguments` (after the program's name) ask for the usage: `--help` and nothing else. The delivery
    /// programs take envelope addresses as arguments, and an address may read `--help`; their real command lines
    /// always hold more than one argument, so an address is never taken for the option.
    public static func isRequested(by arguments: some Collection<String>) -> Bool {
        arguments.count == 1 && arguments.first == option
    }

    /// The usage as printed: `usage` with exactly one newline at its end.
    public static func text(_ usage: String) -> String {
        var text = usage
        while text.hasSuffix("\n") { text.removeLast() }
        return text + "\n"
    }

    /// Prints `usage` on stdout and exits 0 when `arguments` ask for it; returns otherwise. A usage that cannot be
    /// written (stdout closed) exits 111, as a failed write does in every program here.
    public static func answer(_ arguments: some Collection<String>, usage: String) {
        guard isRequested(by: arguments) else { return }
        do throws(Errno) {
            try FileIO.writeAll(STDOUT_FILENO, Array(text(usage).utf8))
        } catch {
            exit(111)
        }
        exit(0)
    }
}
