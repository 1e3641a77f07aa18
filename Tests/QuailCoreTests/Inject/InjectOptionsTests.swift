import Testing

@testable import QuailCore

@Suite struct InjectOptionsTests {
    @Test func injectOptions() throws {
        let options = try InjectOptions.parseInject(["-f", "bob@example.com", "-FBob B", "--", "-odd@example.com"])
        #expect(options == InjectOptions(sender: "bob@example.com", fullName: "Bob B", recipients: ["-odd@example.com"]))
        #expect(try InjectOptions.parseInject(["-t"]).recipientsFromHeader)
        #expect(try InjectOptions.parseInject(["-fx", "a@b"]).dotEndsInput == false)
    }

    @Test func injectRejectsUnknownOptions() {
        #expect(throws: InjectError.self) { try InjectOptions.parseInject(["-x", "a@b"]) }
        #expect(throws: InjectError.self) { try InjectOptions.parseInject(["-f"]) }
    }

    @Test(arguments: [
        (["a@b"], InjectOptions(recipients: ["a@b"], dotEndsInput: true)),
        (["-t"], InjectOptions(recipientsFromHeader: true, dotEndsInput: true)),
        (["-i", "a@b"], InjectOptions(recipients: ["a@b"])),
        (["-oi", "a@b"], InjectOptions(recipients: ["a@b"])),
        (["-ti"], InjectOptions(recipientsFromHeader: true)),
        (["-f", "s@x", "a@b"], InjectOptions(sender: "s@x", recipients: ["a@b"], dotEndsInput: true)),
        (["-fs@x", "a@b"], InjectOptions(sender: "s@x", recipients: ["a@b"], dotEndsInput: true)),
        (["-r", "s@x", "a@b"], InjectOptions(sender: "s@x", recipients: ["a@b"], dotEndsInput: true)),
        (["-F", "Full Name", "a@b"], InjectOptions(fullName: "Full Name", recipients: ["a@b"], dotEndsInput: true)),
        (["-odi", "-oem", "-v", "-bm", "-oi", "a@b"], InjectOptions(recipients: ["a@b"])),
        (["-N", "never", "-R", "hdrs", "-X", "/log", "a@b"], InjectOptions(recipients: ["a@b"], dotEndsInput: true)),
        (["--", "-weird@b"], InjectOptions(recipients: ["-weird@b"], dotEndsInput: true)),
        (["-i", "a@b", "c@d"], InjectOptions(recipients: ["a@b", "c@d"])),
    ])
    func sendmailOptions(arguments: [String], expected: InjectOptions) throws {
        #expect(try SendmailOptions.parse(arguments) == expected)
    }

    @Test func sendmailRefusesWhatItCannotDo() {
        #expect(throws: InjectError.unsupported("-bs")) { try SendmailOptions.parse(["-bs"]) }
        #expect(InjectError.unsupported("-bs").logText == "-bs is not supported yet")
        #expect(InjectError.unsupported("-bs").exitCode == 100)
        #expect(throws: InjectError.unsupported("-bp")) { try SendmailOptions.parse(["-bp"]) }
        #expect(throws: InjectError.usage("unknown option -Z")) { try SendmailOptions.parse(["-Z", "a@b"]) }
        #expect(throws: InjectError.usage("option -f needs a value")) { try SendmailOptions.parse(["-f"]) }
        // A long option is named whole, not as its first letter `-`.
        #expect(throws: InjectError.usage("unknown option --version")) { try SendmailOptions.parse(["--version"]) }
    }

    @Test(arguments: [
        (InjectError.noRecipients, Int32(100)),
        (.usage("x"), 100),
        (.queue(exitCode: 11), 100),
        (.queue(exitCode: 31), 100),
        (.queue(exitCode: 53), 111),
        (.queue(exitCode: 120), 111),
        (.unreadableInput(.permissionDenied), 111),
        (.control(.unreadable(file: "me", errno: .permissionDenied)), 111),
    ])
    func exitCodes(error: InjectError, code: Int32) {
        #expect(error.exitCode == code)
        #expect(error.logText.hasPrefix("fatal: "))
    }
}
