import Glibc
import Testing
@testable import QuailCore

@Suite struct FileIOTests {
    /// Both ends are close-on-exec (a spawned program gets only the ends handed to it) and connected.
    @Test func aPipeIsCloseOnExecAtBothEnds() throws {
        let pipe = try FileIO.makePipe()
        defer { close(pipe.read) }
        #expect(fcntl(pipe.read, F_GETFD) & FD_CLOEXEC != 0)
        #expect(fcntl(pipe.write, F_GETFD) & FD_CLOEXEC != 0)
        let written = Result { () throws(Errno) in try FileIO.writeAll(pipe.write, Array("through".utf8)) }
        close(pipe.write)
        try written.get()
        #expect(try FileIO.readAll(pipe.read) == Array("through".utf8))
    }
}
