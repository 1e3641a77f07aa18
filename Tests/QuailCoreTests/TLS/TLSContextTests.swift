import Foundation
import Glibc
import Testing

@testable import QuailCore

/// The server context is made once per certificate file as it is: a session process reuses it for the next
/// connection, and a file renewed in place or by rename gets a new one.
@Suite struct TLSContextTests {
    /// A self-signed certificate and its key, in one PEM file, by the `openssl` command.
    func writeCertificate(_ path: String, name: String) throws {
        let openssl = Process()
        openssl.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        openssl.arguments = ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
                             "-subj", "/CN=\(name)", "-keyout", path + ".key", "-out", path + ".crt"]
        openssl.standardError = FileHandle.nullDevice
        try openssl.run()
        openssl.waitUntilExit()
        try #require(openssl.terminationStatus == 0)
        let pem = try Data(contentsOf: URL(fileURLWithPath: path + ".crt")) + Data(contentsOf: URL(fileURLWithPath: path + ".key"))
        try pem.write(to: URL(fileURLWithPath: path))
    }

    @Test func theContextIsKeptWhileTheFileIsTheSame() throws {
        let path = try makeScratchDirectory() + "/servercert.pem"
        try writeCertificate(path, name: "one.test")
        let first = try TLSContext.server(certificateFile: path)
        #expect(try TLSContext.server(certificateFile: path) === first)
        // Rewritten in place: same inode, other size or time.
        try writeCertificate(path, name: "a-longer-name.test")
        let second = try TLSContext.server(certificateFile: path)
        #expect(second !== first)
        // Replaced by rename, as README says to.
        try writeCertificate(path + ".new", name: "three.test")
        #expect(rename(path + ".new", path) == 0)
        #expect(try TLSContext.server(certificateFile: path) !== second)
        #expect(throws: TLSError.self) { try TLSContext.server(certificateFile: path + ".missing") }
    }
}
