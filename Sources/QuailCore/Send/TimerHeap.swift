/// A min-heap of (due time, message id): the scheduler's only timer structure.
///
/// Entries are never removed early; a popped entry whose message no longer wants that time is skipped
/// (lazy deletion), which keeps every operation O(log n) without a full-queue scan.
public struct TimerHeap: Sendable {
    private var entries: [(due: Int, id: QueueID)] = []

    public init() {}

    public var count: Int { entries.count }
    public var nextDue: Int? { entries.first?.due }

    /// Makes room for `count` entries in all, so that loading a large queue does not regrow the heap step by step.
    public mutating func reserveCapacity(_ count: Int) { entries.reserveCapacity(count) }

    public mutating func push(_ due: Int, _ id: QueueID) {
        entries.append((due, id))
        var child = entries.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard entries[child].due < entries[parent].due else { break }
            entries.swapAt(child, parent)
            child = parent
        }
    }

    /// Removes and returns the earliest entry due at or before `now`.
    public mutating func popDue(_ now: Int) -> QueueID? {
        guard let first = entries.first, first.due <= now else { return nil }
        let last = entries.removeLast()
        if !entries.isEmpty {
            entries[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1, right = left + 1
                var smallest = parent
                if left < entries.count && entries[left].due < entries[smallest].due { smallest = left }
                if right < entries.count && entries[right].due < entries[smallest].due { smallest = right }
                if smallest == parent { break }
                entries.swapAt(parent, smallest)
                parent = smallest
            }
        }
        return first.id
    }
}
