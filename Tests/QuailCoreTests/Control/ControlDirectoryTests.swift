import Foundation
import Glibc
import Testing

@testable import QuailCore

func writeFile(_ path: String, _ text: String) {
    #expect(FileManager.default.createFile(atPath: path, contents: Data(text.utf8)), "\(path) written")
}

@Suite struct ControlDirectoryTests {
    @Test func skipsCommentsAndBlankLinesAndTrims() {
        let lines = ControlDirectory.parse(Array("# comment\n\n  example.com  \n\t.sub.example.com\r\n   # indented comment\nlast".utf8))
        #expect(lines == [
            ControlLine(number: 3, text: "example.com"),
            ControlLine(number: 4, text: ".sub.example.com"),
            ControlLine(number: 6, text: "last"),
        ])
    }

    @Test func missingFileMeansDefault() throws {
        let directory = ControlDirectory(path: try makeScratchDirectory())
        #expect(try directory.lines("rcpthosts") == nil)
        #expect(try directory.number("databytes", default: 42) == 42)
        #expect(try directory.string("me", default: "fallback") == "fallback")
    }

    @Test func unreadableFileIsATemporaryFailureNamingTheFile() throws {
        let path = try makeScratchDirectory()
        // A directory where a file should be cannot be read, even by root.
        mkdir(path + "/rcpthosts", 0o700)
        #expect(throws: ControlError.unreadable(file: "rcpthosts", errno: Errno(rawValue: EISDIR))) {
            try ControlDirectory(path: path).lines("rcpthosts")
        }
    }

    @Test func malformedNumberNamesFileAndLine() throws {
        let path = try makeScratchDirectory()
        writeFile(path + "/databytes", "# limit\n20M\n")
        let error = #expect(throws: ControlError.self) { try ControlDirectory(path: path).number("databytes", default: 0) }
        #expect(error?.description == "control/databytes line 2: expected a non-negative integer, found \"20M\"")
    }

    @Test func zeroIsRefusedWhereAPositiveNumberIsNeeded() throws {
        let path = try makeScratchDirectory()
        writeFile(path + "/concurrencylocal", "0\n")
        #expect(throws: ControlError.self) { try ControlDirectory(path: path).positiveNumber("concurrencylocal", default: 10) }
    }
}
