import CSystemShims
import Glibc

/// Moves the program's code into anonymous 2 MiB pages, once, at the start of a daemon that forks a child per
/// message: quail-send (a delivery each) and quail-smtpd's listener (a session each, and each session a queue
/// process per message).
///
/// Why: a forked child inherits none of the parent's page-table entries for code mapped from the executable
/// file. It faults the code it runs back in, 16 pages at a time, and unmaps all of it when it exits: about half
/// of a forked quail-remote's page faults, and the larger part of its CPU time, went there. Anonymous memory is
/// inherited with its entries, and a 2 MiB page is one entry, so a child starts with all the code mapped and
/// exits without unmapping it page by page (docs/BENCHMARKS.md, 2026-12-03, afternoon).
///
/// The bytes stay at the same addresses, so nothing else notices, the code running the move included. What it
/// costs: the code counts as the daemon's anonymous memory (about 6 MiB, shared with every child, not copied),
/// and `perf` cannot name functions in it: `QUAIL_NO_HUGE_TEXT=1` leaves the code where it is, for profiling.
public enum HugeText {
    public static let pageSize: UInt = 2 << 20

    /// Moves the code and returns the bytes moved: 0 when it did nothing, because transparent huge pages are off,
    /// `QUAIL_NO_HUGE_TEXT` is set, the code holds no whole 2 MiB page, or a call failed (the code then stays).
    @discardableResult
    public static func adopt() -> Int {
        guard Environment.nonEmpty("QUAIL_NO_HUGE_TEXT") == nil, kernelGivesHugePages(),
              let executable = executablePath(),
              let maps = try? FileIO.readFile("/proc/self/maps"),
              let plan = plan(maps: String(decoding: maps, as: UTF8.self), executable: executable)
        else { return 0 }
        return move(plan) ? Int(plan.range.count) : 0
    }

    /// What to move: whole 2 MiB pages, and how many of their bytes are mapped code (the rest is a hole).
    public struct Plan: Equatable, Sendable {
        public let range: Range<UInt>
        public let mappedBytes: Int
    }

    /// The whole 2 MiB pages of the executable's code mapping in `maps` (the text of /proc/self/maps), or nil.
    /// The end is rounded up past the mapping when nothing else is mapped up to the next 2 MiB boundary: code
    /// linked with 2 MiB segment alignment then moves entirely.
    public static func plan(maps: String, executable: String) -> Plan? {
        let mappings = maps.split(separator: "\n").compactMap(Mapping.init)
        guard let index = mappings.firstIndex(where: { $0.path == executable && $0.executable }) else { return nil }
        let code = mappings[index]
        let next = index + 1 < mappings.count ? mappings[index + 1].start : UInt.max
        let start = roundUp(code.start)
        var end = roundUp(code.end)
        if end > next { end = code.end & ~(pageSize - 1) }
        guard end > start else { return nil }
        return Plan(range: start..<end, mappedBytes: Int(min(end, code.end) - start))
    }

    private struct Mapping {
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

    private static func roundUp(_ address: UInt) -> UInt { (address + pageSize - 1) & ~(pageSize - 1) }

    /// "never" in either switch means no huge page would come: the move would only cost memory.
    private static func kernelGivesHugePages() -> Bool {
        let settings = "/sys/kernel/mm/transparent_hugepage"
        for file in ["\(settings)/enabled", "\(settings)/hugepages-2048kB/enabled"] {
            guard let bytes = try? FileIO.readFile(file) else { continue }
            if String(decoding: bytes, as: UTF8.self).contains("[never]") { return false }
        }
        return (try? FileIO.readFile("\(settings)/enabled")) != nil
    }

    private static func executablePath() -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard length > 0 else { return nil }
        return String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Copies the code into an aligned anonymous mapping that asks for huge pages, makes the copy read-only and
    /// executable, then moves it over the original in one mremap.
    private static func move(_ plan: Plan) -> Bool {
        let length = Int(plan.range.count)
        let failed = UnsafeMutableRawPointer(bitPattern: -1)
        // A page more than needed, to cut an aligned start out of it.
        guard let scratch = mmap(nil, length + Int(pageSize), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              scratch != failed
        else { return false }
        let scratchStart = UInt(bitPattern: scratch)
        let copyStart = roundUp(scratchStart)
        let copyEnd = copyStart + UInt(length)
        if copyStart > scratchStart { munmap(scratch, Int(copyStart - scratchStart)) }
        if scratchStart + UInt(length) + pageSize > copyEnd {
            munmap(UnsafeMutableRawPointer(bitPattern: copyEnd), Int(scratchStart + UInt(length) + pageSize - copyEnd))
        }
        let copy = UnsafeMutableRawPointer(bitPattern: copyStart)!
        _ = madvise(copy, length, MADV_HUGEPAGE)
        copy.copyMemory(from: UnsafeRawPointer(bitPattern: plan.range.lowerBound)!, byteCount: plan.mappedBytes)
        guard mprotect(copy, length, PROT_READ | PROT_EXEC) == 0,
              quail_mremap_fixed(copy, length, UnsafeMutableRawPointer(bitPattern: plan.range.lowerBound)) != failed
        else {
            munmap(copy, length)
            return false
        }
        return true
    }
}
