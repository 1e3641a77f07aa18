import Glibc
import Testing
@testable import QuailCore

@Suite struct ChildProcessTests {
    /// The listener's session process keeps its connection and its channel, whatever their numbers, and
    /// nothing else.
    @Test func closingKeepsOnlyTheNamedDescriptors() throws {
        // Made before the fork: the child of a threaded test process does as little as it can.
        var ends: [Int32] = [0, 0]
        #expect(pipe(&ends) == 0)
        defer { close(ends[0]); close(ends[1]) }
        let kept = [Int32(300), 40]
        // A plain fork, as the listener makes its session processes.
        let pid = Glibc.fork()
        if pid == 0 {
            guard dup2(ends[0], kept[0]) == kept[0], dup2(ends[1], kept[1]) == kept[1] else { _exit(1) }
            ChildProcess.closeDescriptors(from: 3, except: kept)
            for fd in Int32(3)..<1024 where (fcntl(fd, F_GETFD) >= 0) != (fd == kept[0] || fd == kept[1]) { _exit(2) }
            _exit(0)
        }
        #expect(try ChildProcess.wait(pid) == 0)
    }
}
