/// Why quail-inject or quail-sendmail did not queue a message; `exitCode` is qmail-inject's 100 or 111.
public enum InjectError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A bad command line.
    case usage(String)
    /// A sendmail mode quail does not offer (`-bs` for now).
    case unsupported(String)
    /// Neither the arguments nor the header named anyone.
    case noRecipients
    /// An envelope address holds a control character.
    case controlCharacter(String)
    /// Reading the message on stdin failed.
    case unreadableInput(Errno)
    /// A control file needed for the defaults (`me`) could not be used.
    case control(ControlError)
    /// The queue program (quail-queue or `$QUAILQUEUE`) exited with this code.
    case queue(exitCode: Int32)

    /// 100 for a permanent problem, 111 for a temporary one: the exit codes of qmail-inject.
    public var exitCode: Int32 {
        switch self {
        case .usage, .unsupported, .noRecipients, .controlCharacter: 100
        case .unreadableInput, .control: 111
        // qmail-queue(8): 11 through 40 are permanent, every other code temporary.
        case .queue(let code): QueueFailure.isPermanent(exitCode: code) ? 100 : 111
        }
    }

    public var description: String {
        switch self {
        case .usage(let text): text
        case .unsupported(let option): "\(option) is not supported yet"
        case .noRecipients: "no recipients (#5.1.3)"
        case .controlCharacter(let address): "address \"\(ControlCharacters.escaped(address))\" holds a control character (#5.1.3)"
        case .unreadableInput(let errno): "unable to read message: \(errno) (#4.3.0)"
        case .control(let error): "\(error) (#4.3.0)"
        case .queue(let code): QueueFailure.text(forExitCode: code)
        }
    }

    /// The line for stderr after the program's name: fatal errors say so, an unsupported mode does not.
    public var logText: String {
        if case .unsupported = self { return description }
        return "fatal: \(description)"
    }
}
