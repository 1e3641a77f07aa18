import Foundation
import Glibc
import QuailCore
import Testing

/// scripts/test on a machine whose Swift toolchain is there but cannot start: it says so, with what failed,
/// before it installs or builds anything.
@Suite("scripts/test")
struct TestScriptTests {
    @Test func saysWhenTheToolchainCannotRun() throws {
        let home = try TestHome("brokentoolchain")
        let bin = home.path + "/bin"
        try FileIO.makeDirectories(bin)
        let library = "libncursesw.so.6: cannot open shared object file: No such file or directory"
        let swift = "#!/bin/sh\necho \"swift-frontend: error while loading shared libraries: \(library)\" >&2\nexit 127\n"
        try #require(FileManager.default.createFile(atPath: bin + "/swift", contents: Data(swift.utf8),
                                                    attributes: [.posixPermissions: 0o755]))
        // /opt/swift/usr/bin already on PATH, after the broken swift: scripts/test adds nothing in front of it.
        let outcome = try Programs.run(Repository.path("scripts/test"), environment: [
            "PATH": "\(bin):/opt/swift/usr/bin:/usr/local/bin:/usr/bin:/bin", "CI": "",
        ])
        let output = outcome.stdout + outcome.stderr
        #expect(outcome.status != 0, "\(output)")
        #expect(output.contains("FAILED") && output.contains("cannot run"), "\(output)")
        #expect(output.contains(library), "what failed: \(output)")
        #expect(!output.contains("swift build") && !output.contains("test tools") && !output.contains("installing"), "\(output)")
    }
}
