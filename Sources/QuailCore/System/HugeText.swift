import CSystemShims
import Glibc

/// Moves the program's code into anonymous 2 MiB pages, once, at the start of a daemon that forks a child per
/// message: quail-send (a delivery each) and quail-smtpd's listener (a session each, and each session a queue
/// process per message).
///
/// Why: a forked child inherits none of the parent's page-table entries for code mapped from the program file.
/// It faulted the code it ran back in, 16 pages at a time, and unmapped all of it when it exited: about half
/// of a forked quail-remote's page faults, and two fifths of a queue process's. Anonymous memory is inherited
/// with its entries, and a 2 MiB page is one entry, so a child starts with that code mapped
/// (docs/BENCHMARKS.md, "2026-12-03, afternoon"). Only whole 2 MiB pages move: with scripts/build's link, the
/// first 6 MiB of the code; the rest, up to the data, stays mapped from the file.
///
/// The bytes stay at the same addresses, so nothing else notices, the code running the move included. What it
/// costs: about 6 MiB that count as anonymous memory in the daemon and in each child's resident size (shared, not
/// copied), and `perf` cannot name functions in it: `QUAIL_NO_HUGE_TEXT=1` leaves the code where it is.
public enum HugeText {
    public static let hugePageSize: UInt = 2 << 20

    /// Moves the code and returns the bytes now in huge pages: 0 when nothing moved, because transparent huge
    /// pages are off, `QUAIL_NO_HUGE_TEXT` is set, the code holds no whole 2 MiB page, or the kernel gave small
    /// pages or refused a step; the code then stays where it was. The one exception is the final `mremap`: it
    /// unmaps the original first, so if it fails after that (the kernel out of memory for page tables) the
    /// process dies at start, and `QUAIL_NO_HUGE_TEXT=1` is the way around it.
    ///
    /// Only before any thread starts: a mapping made meanwhile in the rounded-up end of the range would be
    /// replaced.
    @discardableResult
    public static func adopt() -> Int {
        guard Environment.nonEmpty("QUAIL_NO_HUGE_TEXT") == nil, kernelGivesHugePages(),
              let executable = ChildProcess.executablePath(),
              let maps = try? FileIO.readFile("/proc/self/maps"),
              let plan = plan(maps: String(decoding: maps, as: UTF8.self), executable: executable),
              move(plan)
        else { return 0 }
        return plan.range.count
    }

    /// What to move: whole 2 MiB pages, and how many of their bytes are mapped code (the rest is a hole that the
    /// move fills with zeros).
    public struct Plan: Equatable, Sendable {
        public let range: Range<UInt>
        public let mappedBytes: Int
    }

    /// The whole 2 MiB pages of the executable's code mapping in `maps` (the text of /proc/self/maps), or nil.
    /// The end is rounded up past the mapping when nothing else is mapped up to the next 2 MiB boundary: code
    /// linked with 2 MiB segment alignment then moves entirely.
    public static func plan(maps: String, executable: String) -> Plan? {
        let mappings = mappings(maps)
        guard let index = mappings.firstIndex(where: { $0.path == executable && $0.executable }) else { return nil }
        let code = mappings[index]
        let next = index + 1 < mappings.count ? mappings[index + 1].start : UInt.max
        let start = roundUp(code.start)
        var end = roundUp(code.end)
        if end > next { end = code.end & ~(hugePageSize - 1) }
        guard end > start else { return nil }
        return Plan(range: start..<end, mappedBytes: Int(min(end, code.end) - start))
    }

    /// "never" in the global switch or in the 2 MiB size's own means no huge page would come.
    static func kernelGivesHugePages() -> Bool {
        let settings = "/sys/kernel/mm/transparent_hugepage"
        guard let global = try? FileIO.readFile("\(settings)/enabled") else { return false }
        let sized = (try? FileIO.readFile("\(settings)/hugepages-2048kB/enabled")) ?? []
        return ![global, sized].contains { String(decoding: $0, as: UTF8.self).contains("[never]") }
    }

    /// The mappings listed in `maps` (/proc/self/maps or smaps; smaps's other lines are skipped).
    static func mappings(_ maps: String) -> [Mapping] { maps.split(separator: "\n").compactMap(Mapping.init) }

    struct Mapping {
        let start: UInt
        let end: UInt
        let executable: Bool
        let path: Substring

        /// One line of /proc/self/maps: `start-end perms offset device inode [path]`.
        init?(_ line: Substring) {
            let fields = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
            guard fields.count >= 5 else { return nil }
            let bounds = fields[0].split(separator: "-")
            guard bounds.count == 2, let start = UInt(bounds[0], radix: 16), let end = UInt(bounds[1], radix: 16),
                  start < end
            else { return nil }
            self.start = start
            self.end = end
            executable = fields[1].count == 4 && fields[1].dropFirst(2).first == "x"
            path = fields.count == 6 ? Substring(fields[5].drop { $0 == " " }) : ""
        }
    }

    private static func roundUp(_ address: UInt) -> UInt { (address + hugePageSize - 1) & ~(hugePageSize - 1) }

    /// Copies the code into an aligned anonymous mapping that asks for huge pages, checks that it got them, makes
    /// the copy read-only and executable, then moves it over the original in one mremap.
    private static func move(_ plan: Plan) -> Bool {
        let length = plan.range.count
        let mapFailed = UnsafeMutableRawPointer(bitPattern: -1)
        // A huge page more than needed, to cut an aligned start out of it.
        guard let scratch = mmap(nil, length + Int(hugePageSize), PROT_READ | PROT_WRITE,
                                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              scratch != mapFailed
        else { return false }
        let scratchStart = UInt(bitPattern: scratch)
        let scratchEnd = scratchStart + UInt(length) + hugePageSize
        let copyStart = roundUp(scratchStart)
        let copyEnd = copyStart + UInt(length)
        if copyStart > scratchStart { munmap(scratch, Int(copyStart - scratchStart)) }
        if scratchEnd > copyEnd { munmap(UnsafeMutableRawPointer(bitPattern: copyEnd), Int(scratchEnd - copyEnd)) }
        let copy = UnsafeMutableRawPointer(bitPattern: copyStart)!
        _ = madvise(copy, length, MADV_HUGEPAGE)
        copy.copyMemory(from: UnsafeRawPointer(bitPattern: plan.range.lowerBound)!, byteCount: plan.mappedBytes)
        // Small pages would be worse than the file: a fork copies an entry for every page of anonymous memory.
        // MADV_COLLAPSE (25, Linux 6.1) tries once more, synchronously, where the faults got small pages.
        var huge = hugeBytes(at: copyStart)
        if huge < length {
            _ = madvise(copy, length, 25)
            huge = hugeBytes(at: copyStart)
        }
        guard huge >= length, mprotect(copy, length, PROT_READ | PROT_EXEC) == 0,
              quail_mremap_fixed(copy, length, UnsafeMutableRawPointer(bitPattern: plan.range.lowerBound)) != mapFailed
        else {
            munmap(copy, length)
            return false
        }
        return true
    }

    /// The AnonHugePages, in bytes, of the mapping that starts at `address`, from /proc/self/smaps.
    static func hugeBytes(at address: UInt) -> Int {
        guard let smaps = try? FileIO.readFile("/proc/self/smaps") else { return 0 }
        var inMapping = false
        for line in String(decoding: smaps, as: UTF8.self).split(separator: "\n") {
            if let mapping = Mapping(line) {
                inMapping = mapping.start == address
            } else if inMapping, line.hasPrefix("AnonHugePages:") {
                let fields = line.split(separator: " ", omittingEmptySubsequences: true)
                return (fields.count > 1 ? Int(fields[1]) ?? 0 : 0) * 1024
            }
        }
        return 0
    }
}
