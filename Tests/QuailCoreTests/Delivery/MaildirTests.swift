import Foundation
import Glibc
import Testing

@testable import QuailCore

/// A throw-away `$QUAIL_HOME` (with `control/`) for one unit test of local delivery; removed on release.
final class LocalTestHome {
    let path: String
    var home: QuailHome { QuailHome(path: path) }

    init() throws {
        path = try makeScratchDirectory()
        try FileIO.makeDirectories(path + "/control")
    }

    /// Writes control file `name` with one line per entry.
    func control(_ name: String, _ lines: String...) throws {
        try FileIO.replaceDurably(
            path + "/control/" + name, with: Array((lines.joined(separator: "\n") + "\n").utf8),
            temporary: path + "/control/." + name, syncing: false)
    }

    func configuration() throws -> Configuration { try Configuration(home: home) }

    /// The names in `directory` (relative to the home), sorted; empty when it does not exist.
    func list(_ directory: String) -> [String] {
        ((try? FileIO.listDirectory(path + "/" + directory)) ?? []).sorted()
    }

    func exists(_ relative: String) -> Bool { access(path + "/" + relative, F_OK) == 0 }

    /// Puts a plain file where a directory is expected, to make a delivery fail even for root.
    func makeFile(_ relative: String) throws {
        let fd = try FileIO.open(path + "/" + relative, O_WRONLY | O_CREAT)
        defer { close(fd) }
        try FileIO.writeAll(fd, "not a directory\n")
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

@Suite struct MaildirTests {
    @Test func deliverPutsTheExactBytesInNewAndLeavesTmpEmpty() throws {
        let home = try LocalTestHome()
        let maildir = Maildir(path: home.path + "/mail/example.com/user")
        try maildir.create()
        let parts: [[UInt8]] = [Array("Return-Path: <>\n".utf8), [0x41, 0x0A, 0xFF, 0x00, 0x0D, 0x0A, 0x0A, 0x42]]
        let name = try maildir.deliver(parts)

        #expect(home.list("mail/example.com/user/new") == [name])
        #expect(home.list("mail/example.com/user/tmp").isEmpty)
        #expect(try FileIO.readFile(maildir.new + "/" + name) == parts[0] + parts[1])
        let info = try #require(try FileIO.status(maildir.new + "/" + name))
        #expect(info.st_mode & 0o777 == 0o600)
    }

    @Test func createMakesAllThreeDirectoriesAndParentsWithMode0700() throws {
        let home = try LocalTestHome()
        let maildir = Maildir(path: home.path + "/a/b/c")
        try maildir.create()
        try maildir.create()  // a second time changes nothing
        for directory in ["a", "a/b", "a/b/c", "a/b/c/tmp", "a/b/c/new", "a/b/c/cur"] {
            let info = try #require(try FileIO.status(home.path + "/" + directory), "\(directory) missing")
            #expect(info.st_mode & 0o170000 == 0o040000, "\(directory) is not a directory")
            #expect(info.st_mode & 0o777 == 0o700, "\(directory) mode")
        }
    }

    @Test func namesAreUniqueOverManyWrites() throws {
        let home = try LocalTestHome()
        let maildir = Maildir(path: home.path + "/box")
        try maildir.create()
        var names: Set<String> = []
        for index in 0..<150 {
            names.insert(try maildir.deliver([Array("message \(index)\n".utf8)]))
        }
        #expect(names.count == 150)
        #expect(Set(home.list("box/new")) == names)
        #expect(home.list("box/tmp").isEmpty)
    }

    @Test func nameFollowsTheModernConvention() throws {
        let name = Maildir.uniqueName()
        let parts = name.split(separator: ".", maxSplits: 2)
        try #require(parts.count == 3)
        #expect(Int(parts[0]) != nil)
        #expect(parts[1].hasPrefix("M") && parts[1].hasSuffix("P\(getpid())"))
        #expect(!name.contains("/") && !name.contains(":"))
    }

    @Test(arguments: [("mx.example", "mx.example"), ("a/b", "a\\057b"), ("h:1", "h\\0721"), ("", "localhost")])
    func hostNameIsEscaped(host: String, expected: String) {
        #expect(Maildir.safeHostName(host) == expected)
    }

    @Test func aParentThatIsAFileFailsToCreate() throws {
        let home = try LocalTestHome()
        try home.makeFile("blocker")
        let maildir = Maildir(path: home.path + "/blocker/user")
        #expect(throws: MaildirError.cannotCreate(path: maildir.path, errno: Errno(rawValue: ENOTDIR))) {
            try maildir.create()
        }
    }

    @Test func aWriteErrorLeavesNothingInNew() throws {
        let home = try LocalTestHome()
        let maildir = Maildir(path: home.path + "/box")
        try maildir.create()
        // tmp/ replaced by a plain file: the delivery cannot open it, and nothing reaches new/.
        rmdir(maildir.tmp)
        try home.makeFile("box/tmp")
        #expect(throws: MaildirError.self) { try maildir.deliver([Array("x\n".utf8)]) }
        #expect(home.list("box/new").isEmpty)
    }

    @Test func aNewThatIsNoDirectoryLeavesTmpEmpty() throws {
        let home = try LocalTestHome()
        let maildir = Maildir(path: home.path + "/box")
        try maildir.create()
        rmdir(maildir.new)
        try home.makeFile("box/new")
        let error = try #require(throws: MaildirError.self) { try maildir.deliver([Array("x\n".utf8)]) }
        #expect(error == .cannotCreate(path: maildir.new, errno: Errno(rawValue: ENOTDIR)))
        #expect(home.list("box/tmp").isEmpty)
    }

    /// A symbolic link at the domain's or the user's level, pointing outside the root, is never followed:
    /// the delivery fails (temporarily, `MaildirError` is all temporary) naming the link, and the link's
    /// target stays empty. Likewise a link where `tmp/` or `new/` belongs.
    @Test(arguments: ["mail/example.com", "mail/example.com/user", "mail/example.com/user/tmp", "mail/example.com/user/new"])
    func aSymbolicLinkBelowTheRootIsNotFollowed(link: String) throws {
        let home = try LocalTestHome()
        try FileIO.makeDirectories(home.path + "/elsewhere")
        let maildir = Maildir(root: home.path + "/mail", components: ["example.com", "user"])
        if link.hasSuffix("/tmp") || link.hasSuffix("/new") { try maildir.create() }
        try FileIO.makeDirectories(FileIO.directoryName(of: home.path + "/" + link))
        if link.hasSuffix("/tmp") || link.hasSuffix("/new") { rmdir(home.path + "/" + link) }
        #expect(symlink(home.path + "/elsewhere", home.path + "/" + link) == 0)

        #expect(throws: MaildirError.symbolicLink(path: home.path + "/" + link)) {
            try maildir.deliver([Array("x\n".utf8)])
        }
        #expect(home.list("elsewhere").isEmpty)
        if !link.hasSuffix("/tmp") && !link.hasSuffix("/new") { #expect(try maildir.exists() == false) }
    }

    @Test func theRootItselfMayBeALink() throws {
        let home = try LocalTestHome()
        try FileIO.makeDirectories(home.path + "/real")
        #expect(symlink(home.path + "/real", home.path + "/mail") == 0)
        let maildir = Maildir(root: home.path + "/mail", components: ["example.com", "user"])
        #expect(try maildir.exists() == false)
        _ = try maildir.deliver([Array("x\n".utf8)])
        #expect(try maildir.exists())
        #expect(home.list("real/example.com/user/new").count == 1)
    }

    @Test(arguments: [(ENOSPC, "(#4.3.1)"), (EDQUOT, "(#4.2.2)"), (EIO, "(#4.3.0)")])
    func fullDisksAndQuotasHaveTheirOwnStatusCodes(code: Int32, status: String) {
        let text = MaildirError.cannotWrite(path: "/m/tmp/x", errno: Errno(rawValue: code)).description
        #expect(text.hasSuffix(status))
        #expect(text.contains(Errno(rawValue: code).description))
    }
}
