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

    /// Linked with 2 MiB segment alignment, nothing follows the code up to the boundary: all of it moves, and
    /// the hole after its end is not copied from.
    @Test func codeAlignedToTwoMebibytesMovesEntirely() {
        let maps = """
            00400000-00bfc000 r-xp 00000000 fe:00 5308561    \(Self.exe)
            00fc5000-01000000 r--p 009c5000 fe:00 5308561    \(Self.exe)
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
    /// moves into anonymous huge pages, goes on running, and a child forked from it runs too. The test process
    /// itself is left alone.
    @Test func theMovedCodeRunsInHugePagesAndInAForkedChild() throws {
        let settings = (try? FileIO.readFile("/sys/kernel/mm/transparent_hugepage/enabled")).map {
            String(decoding: $0, as: UTF8.self)
        }
        let hugePagesOn = settings.map { !$0.contains("[never]") } ?? false
        let nowhere = open("/dev/null", O_RDWR)
        defer { close(nowhere) }
        let pid = try ChildProcess.fork(name: "quail-test", stdin: nowhere, stdout: nowhere) {
            let moved = HugeText.adopt()
            if !hugePagesOn { return moved == 0 ? 0 : 10 }
            guard moved >= Int(HugeText.pageSize) else { return 11 }
            // The moved range is an anonymous executable mapping now, with huge pages in it.
            guard let smaps = try? FileIO.readFile("/proc/self/smaps") else { return 12 }
            let text = String(decoding: smaps, as: UTF8.self)
            guard hugeAnonymousCode(in: text) >= Int(HugeText.pageSize) else { return 13 }
            // Code in the moved range still runs, here and in a child forked from here.
            guard HugeText.plan(maps: "00400000-00bfc000 r-xp 0 0:0 0 /x", executable: "/x") != nil else { return 14 }
            // The child closed `nowhere` (above 3); its 0 and 1 are /dev/null.
            guard let grandchild = try? ChildProcess.fork(name: "quail-test", stdin: 0, stdout: 1, {
                HugeText.plan(maps: "00400000-00bfc000 r-xp 0 0:0 0 /x", executable: "/x") != nil ? 0 : 1
            }) else { return 15 }
            guard let end = try? ChildProcess.wait(grandchild) else { return 16 }
            return end == 0 ? 0 : 100 + end
        }
        let status = try ChildProcess.wait(pid)
        #expect(status == 0, "the child's step \(status) failed (HugeText.adopt() in the child)")
        let own = String(decoding: try #require(try FileIO.readFile("/proc/self/smaps")), as: UTF8.self)
        #expect(hugeAnonymousCode(in: own) == 0, "the test process's own code did not move")
    }
}

/// The AnonHugePages of anonymous executable mappings in `smaps`, in bytes.
private func hugeAnonymousCode(in smaps: String) -> Int {
    var total = 0
    var inAnonymousCode = false
    for line in smaps.split(separator: "\n") {
        let fields = line.split(separator: " ", omittingEmptySubsequences: true)
        if let first = fields.first, first.contains("-"), fields.count >= 5 {
            // A mapping's header: anonymous when it names no file (inode 0, no path).
            inAnonymousCode = fields[1].count == 4 && fields[1].dropFirst(2).first == "x" && fields[4] == "0"
                && fields.count == 5
        } else if inAnonymousCode, line.hasPrefix("AnonHugePages:"), fields.count >= 2, let kib = Int(fields[1]) {
            total += kib * 1024
        }
    }
    return total
}
