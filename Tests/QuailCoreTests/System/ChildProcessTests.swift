import Glibc
import Testing
@testable import QuailCore

@Suite struct ChildProcessTests {
    /// A forked child must not hold a descriptor it was not given: a write end left open would keep its reader
    /// waiting for an end of file that never comes.
    @Test func aForkedChildKeepsOnlyWhatItIsGiven() throws {
        var stray: [Int32] = [0, 0]
        var given: [Int32] = [0, 0]
        #expect(pipe(&stray) == 0 && pipe(&given) == 0)
        defer { for fd in stray + given { close(fd) } }
        let nowhere = open("/dev/null", O_RDWR)
        defer { close(nowhere) }
        let strayFD = stray[1]
        let pid = try ChildProcess.fork(name: "quail-test", stdin: nowhere, stdout: nowhere, descriptor3: given[1]) {
            // 3 is the given pipe, a pipe's write end; the stray one, and anything above 3, is closed.
            var info = stat()
            guard fstat(3, &info) == 0, (info.st_mode & S_IFMT) == S_IFIFO else { return 1 }
            guard fcntl(strayFD, F_GETFD) < 0, errno == EBADF else { return 2 }
            for fd in Int32(4)..<64 where fcntl(fd, F_GETFD) >= 0 { return 3 }
            return 0
        }
        #expect(try ChildProcess.wait(pid) == 0)
    }

    /// The listener's session process keeps its connection and its channel, whatever their numbers, and
    /// nothing else.
    @Test func closingKeepsOnlyTheNamedDescriptors() throws {
        let nowhere = open("/dev/null", O_RDWR)
        defer { close(nowhere) }
        let pid = try ChildProcess.fork(name: "quail-test", stdin: nowhere, stdout: nowhere) {
            var first: [Int32] = [0, 0], second: [Int32] = [0, 0]
            guard pipe(&first) == 0, pipe(&second) == 0, dup2(first[0], 40) == 40 else { return 1 }
            ChildProcess.closeDescriptors(from: 3, except: [second[0], 40])
            let open = (Int32(3)..<64).filter { fcntl($0, F_GETFD) >= 0 }
            return open == [second[0], 40] ? 0 : 2
        }
        #expect(try ChildProcess.wait(pid) == 0)
    }
}
