import Glibc
import Testing
@testable import QuailCore

@Suite struct HugeTextTests {
    static let exe = "/usr/sbin/quail-send"
    static let tail = """
        00bfd000-00c38000 r--p 007fc000 fe:00 5308561    \(exe)
        00c38000-00d92000 rw-p 00837000 fe:00 5308561    \(exe)
        00d92000-00de1000 rw-p 00000000 00:00 0
        7ffd5a1c2000-7ffd5a1c4000 r-xp 00000000 00:00 0                          [vdso]
        """

    /// scripts/build's static link: code from 0x400000 to 0xbfc000, read-only data right after. Three whole pages
    /// move; the last 2 MiB stays, since rounding it up would cover the data.
    @Test func aStaticLinkMovesItsWholePages() {
        let maps = "00400000-00bfc000 r-xp 00000000 fe:00 5308561    \(Self.exe)\n" + Self.tail
        #expect(HugeText.plan(maps: maps, executable: Self.exe)
            == HugeText.Plan(range: 0x400000..<0xa00000, mappedBytes: 0x600000))
    }

    /// Linked with 2 MiB segment alignment, nothing follows the code up to the boundary (the next mapping starts
    /// well after it, or right at it): all of it moves, and the hole after its end is not copied from.
    @Test(arguments: ["00fc5000-01000000", "00c00000-00c38000"])
    func codeWithNothingUpToTheBoundaryMovesEntirely(next: String) {
        let maps = """
            00400000-00bfc000 r-xp 00000000 fe:00 5308561    \(Self.exe)
            \(next) r--p 009c5000 fe:00 5308561    \(Self.exe)
            """
        #expect(HugeText.plan(maps: maps, executable: Self.exe)
            == HugeText.Plan(range: 0x400000..<0xc00000, mappedBytes: 0x7fc000))
    }

    /// A position-independent program: only the whole 2 MiB pages inside its code mapping.
    @Test func aRandomBaseMovesTheAlignedMiddle() {
        let maps = """
            55d0c09f0000-55d0c0a2b000 r--p 00000000 fe:00 77    \(Self.exe)
            55d0c0a2b000-55d0c0f3b000 r-xp 0003b000 fe:00 77    \(Self.exe)
            55d0c0f3b000-55d0c0f80000 r--p 0054b000 fe:00 77    \(Self.exe)
            """
        #expect(HugeText.plan(maps: maps, executable: Self.exe)
            == HugeText.Plan(range: 0x55d0c0c00000..<0x55d0c0e00000, mappedBytes: 0x200000))
    }

    @Test func nothingMovesWithoutAWholePageOrTheProgramsOwnCode() {
        // Less than 2 MiB of code, and the data right after it: no whole page.
        let small = """
            00401000-005e0000 r-xp 00001000 fe:00 1    \(Self.exe)
            005e1000-005f0000 rw-p 001e0000 fe:00 1    \(Self.exe)
            """
        #expect(HugeText.plan(maps: small, executable: Self.exe) == nil)
        // A library's code and the vDSO are not the program's; a replaced program shows "(deleted)".
        let others = """
            7f0000000000-7f0000a00000 r-xp 00028000 fe:00 9    /usr/lib/x86_64-linux-gnu/libc.so.6
            00400000-00bfc000 r-xp 00000000 fe:00 5308561    \(Self.exe) (deleted)
            """ + "\n" + Self.tail
        #expect(HugeText.plan(maps: others, executable: Self.exe) == nil)
        #expect(HugeText.plan(maps: "", executable: Self.exe) == nil)
        #expect(HugeText.plan(maps: "garbage\n-\n0-0 r-xp\n", executable: Self.exe) == nil)
    }

    /// In a forked child of this test process (its code is large enough to hold whole 2 MiB pages): the code
    /// moves into anonymous huge pages byte for byte, goes on running, and a child forked from it runs too. The
    /// test process itself is left alone.
    @Test func theMovedCodeRunsInHugePagesAndInAForkedChild() throws {
        let hugePagesOn = HugeText.kernelGivesHugePages()
        let status = try inForkedChild {
            guard let executable = ChildProcess.executablePath(), let maps = try? FileIO.readFile("/proc/self/maps"),
                  let plan = HugeText.plan(maps: String(decoding: maps, as: UTF8.self), executable: executable)
            else { return 10 }
            let start = UnsafeRawPointer(bitPattern: plan.range.lowerBound)!
            let before = Array(UnsafeRawBufferPointer(start: start, count: plan.mappedBytes))
            let moved = HugeText.adopt()
            if !hugePagesOn { return moved == 0 ? 0 : 11 }
            guard moved == plan.range.count else { return 12 }
            guard HugeText.hugeBytes(at: plan.range.lowerBound) == moved else { return 13 }
            guard before.withUnsafeBytes({ memcmp($0.baseAddress!, start, plan.mappedBytes) }) == 0 else { return 14 }
            // Code goes on running, here and in a child forked from here (whose 0 and 1 are /dev/null; the
            // descriptor behind them was above 3, so this child closed it).
            let runsCode = { HugeText.plan(maps: "00400000-00bfc000 r-xp 0 0:0 0 /x", executable: "/x") != nil }
            guard runsCode() else { return 15 }
            guard let grandchild = try? ChildProcess.fork(name: "quail-test", stdin: 0, stdout: 1, {
                runsCode() ? 0 : 1
            }) else { return 16 }
            guard let end = try? ChildProcess.wait(grandchild) else { return 17 }
            return end == 0 ? 0 : 100 + end
        }
        #expect(status == 0, "\(describe(status))")
        #expect(try ownCodeIsFileMapped(), "the test process's own code did not move")
    }

    @Test func quailNoHugeTextLeavesTheCodeWhereItIs() throws {
        let status = try inForkedChild {
            setenv("QUAIL_NO_HUGE_TEXT", "1", 1)
            guard HugeText.adopt() == 0 else { return 10 }
            return (try? ownCodeIsFileMapped()) == true ? 0 : 11
        }
        #expect(status == 0, "\(describe(status))")
    }
}

/// Runs `body` in a forked child with /dev/null for 0 and 1, and returns its exit status. An alarm ends a child
/// that a lock held by another of the test runner's threads at the fork would keep waiting.
private func inForkedChild(_ body: () -> Int32) throws -> Int32 {
    let nowhere = open("/dev/null", O_RDWR)
    defer { close(nowhere) }
    let pid = try ChildProcess.fork(name: "quail-test", stdin: nowhere, stdout: nowhere) {
        alarm(30)
        return body()
    }
    return try ChildProcess.wait(pid)
}

private func describe(_ status: Int32) -> String {
    status > 128 && status < 160 ? "the child died by signal \(status - 128)" : "the child's step \(status) failed"
}

/// Whether the code where a move would start is still mapped from the program file, in this process.
private func ownCodeIsFileMapped() throws -> Bool {
    let executable = try #require(ChildProcess.executablePath())
    let maps = String(decoding: try #require(try FileIO.readFile("/proc/self/maps")), as: UTF8.self)
    let plan = try #require(HugeText.plan(maps: maps, executable: executable))
    let address = plan.range.lowerBound
    let holding = HugeText.mappings(maps).first { $0.start <= address && address < $0.end }
    return holding.map { $0.path == executable } ?? false
}
