import Glibc
import Testing
@testable import QuailCore

@Suite struct ChildProcessTests {
    /// The listener's session process keeps its connection and its channel, whatever their numbers, and
    /// nothing else.
    @Test func closingKeepsOnlyTheNamedDescriptors() throws {
        let nowhere = open("/dev/null", O_RDWR)
        defer { close(nowhere) }
        // A plain fork, as the listener makes its session processes.
        let pid = Glibc.fork()
        if pid == 0 {
            var first: [Int32] = [0, 0], second: [Int32] = [0, 0]
            guard pipe(&first) == 0, pipe(&second) == 0, dup2(first[0], 40) == 40 else { _exit(1) }
            ChildProcess.closeDescriptors(from: 3, except: [second[0], 40])
            let open = (Int32(3)..<64).filter { fcntl($0, F_GETFD) >= 0 }
            _exit(Set(open) == Set([second[0], 40]) ? 0 : 2)
        }
        #expect(try ChildProcess.wait(pid) == 0)
    }
}
