import Glibc

/// quail-inject and quail-sendmail behind their thin mains: read stdin, build, queue, exit 0, 100 or 111.
public enum InjectCommand {
    /// Answers `--help` with `usage`, or parses the command line with `parse`, queues the message on stdin and
    /// exits; errors are reported on stderr as `program: fatal: ...`, a bad command line followed by `usage`.
    public static func main(
        program: String, usage: String, parse: ([String]) throws(InjectError) -> InjectOptions
    ) -> Never {
        let arguments = Array(CommandLine.arguments.dropFirst())
        CommandHelp.answer(arguments, usage: usage)
        do throws(InjectError) {
            let options = try parse(arguments)
            try run(options)
            exit(0)
        } catch {
            let reminder = if case .usage = error { "\n" + usage } else { "" }
            Diagnostics.fail(program, error.logText + reminder, exitCode: error.exitCode)
        }
    }

    /// Reads the message on `input` to its end, builds it and hands it to `queue`.
    public static func run(
        _ options: InjectOptions, input: Int32 = STDIN_FILENO, queue: QueueClient = QueueClient()
    ) throws(InjectError) {
        // The input is read first, so a program piping into us gets no SIGPIPE when we then fail.
        let bytes: [UInt8]
        do { bytes = try FileIO.readAll(input) } catch { throw .unreadableInput(error) }
        let identity: InjectIdentity
        do { identity = try InjectIdentity.current() } catch { throw .control(error) }
        let (message, envelope) = try Injection(options: options, identity: identity).build(bytes)
        let code = queue.submit(message: message, envelope: envelope)
        guard code == 0 else { throw .queue(exitCode: code) }
    }
}
