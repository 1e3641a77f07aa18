/// The command line of `sendmail`, as Postfix's sendmail reads it (getopt with
/// `B:C:F:GIL:N:O:R:UV:X:b:ce:f:h:imno:p:r:q:tvx`): flags may be clustered (`-ti`) and values attached
/// (`-fSENDER`) or separate (`-f SENDER`).
public enum SendmailOptions {
    /// What `quail-sendmail --help` prints, and the reminder after a bad command line.
    public static let usage = """
        usage: quail-sendmail [-t] [-i | -oi] [-f SENDER] [-F NAME] [--] [RECIPIENT ...]
        The sendmail command line, for programs that only know /usr/sbin/sendmail: reads a message
        on stdin and queues it as quail-inject does.
          -t         take the recipients from the header as well
          -i, -oi    a line holding only "." is text; without them it ends the message
          -f SENDER  the envelope sender (-r too); -f '' for the null sender
          -F NAME    the display name of a generated From line
        sendmail's other flags are accepted and change nothing; -bs and -q are not supported.
        Exit 0 queued, 100 refused for good, 111 try again later.
        """

    /// Options whose value is the rest of the argument or the next one.
    static let takingValue = Set<Character>("BCFLNORVXbefhopqr")
    /// Flags that change nothing for quail (verbose, initial submission, and the like).
    static let ignoredFlags = Set<Character>("GIUcmnvx")

    /// Parses `arguments` (without the program name). Unless `-i` or `-oi` is given, a lone `.` ends the input.
    public static func parse(_ arguments: [String]) throws(InjectError) -> InjectOptions {
        var options = InjectOptions(dotEndsInput: true)
        var index = 0
        while index < arguments.count, arguments[index].hasPrefix("-"), arguments[index] != "-" {
            let argument = arguments[index]
            index += 1
            if argument == "--" { break }
            // getopt would read `--help` as the flags `-`, `h`, ...: name the word, not its first letter.
            if argument.hasPrefix("--") { throw .usage("unknown option \(argument)") }
            var rest = argument.dropFirst()
            while let letter = rest.first {
                rest = rest.dropFirst()
                if takingValue.contains(letter) {
                    let value = try rest.isEmpty ? nextValue(for: letter, arguments, &index) : String(rest)
                    rest = ""
                    try apply(letter, value, to: &options)
                } else {
                    try apply(letter, to: &options)
                }
            }
        }
        options.recipients = Array(arguments[index...])
        return options
    }

    private static func nextValue(
        for letter: Character, _ arguments: [String], _ index: inout Int
    ) throws(InjectError) -> String {
        guard index < arguments.count else { throw .usage("option -\(letter) needs a value") }
        index += 1
        return arguments[index - 1]
    }

    private static func apply(_ letter: Character, to options: inout InjectOptions) throws(InjectError) {
        switch letter {
        case "t": options.recipientsFromHeader = true
        case "i": options.dotEndsInput = false
        case _ where ignoredFlags.contains(letter): break
        default: throw .usage("unknown option -\(letter)")
        }
    }

    private static func apply(
        _ letter: Character, _ value: String, to options: inout InjectOptions
    ) throws(InjectError) {
        switch letter {
        case "f", "r": options.sender = value
        case "F": options.fullName = value
        // -oi is sendmail's IgnoreDots; every other -o (-odi, -oem, -oQ...) changes nothing here.
        case "o" where value == "i": options.dotEndsInput = false
        case "b" where value == "m": break
        case "b": throw .unsupported("-b\(value)")
        case "q": throw .unsupported("-q\(value)")
        default: break
        }
    }
}
