import Testing

@testable import QuailCore

@Suite struct CommandHelpTests {
    @Test(arguments: [
        (["--help"], true),
        ([], false),
        (["-h"], false),
        (["--HELP"], false),
        // quail-local SENDER RECIPIENT and quail-remote DOMAIN SENDER RECIPIENT: an address is never the option.
        (["--help", "user@example.test"], false),
        (["example.test", "--help", "user@example.test"], false),
    ])
    func asksForHelpOnlyAlone(arguments: [String], expected: Bool) {
        #expect(CommandHelp.isRequested(by: arguments) == expected)
    }

    @Test func usageEndsInOneNewline() {
        #expect(CommandHelp.text("usage: x") == "usage: x\n")
        #expect(CommandHelp.text("usage: x\n\n") == "usage: x\n")
    }

    @Test(arguments: [
        SMTPServer.usage, QueueProgram.usage, Scheduler.usage, RemoteDelivery.usage, LocalDelivery.usage,
        InjectOptions.injectUsage, SendmailOptions.usage, QueueStatCommand.usage, QueueReadCommand.usage,
        QueueControlCommand.usage, MXCheckOptions.usage,
    ])
    func everyUsageFitsATerminal(usage: String) {
        for line in usage.split(separator: "\n") { #expect(line.count <= 100, "\(line)") }
        #expect(usage.hasPrefix("usage: quail-"))
    }
}
