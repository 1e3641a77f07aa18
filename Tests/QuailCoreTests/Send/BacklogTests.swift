import Testing

@testable import QuailCore

/// The order in which quail-send reads the state records it listed at start-up: everything due already first, in
/// inode order (roughly the order of the records on disk), then the rest by when it is due.
@Suite struct BacklogTests {
    @Test func dueRecordsFirstInInodeOrderThenByNextWork() {
        let now = 1_000
        var backlog = Backlog([(work: 5_000, id: 1), (work: 900, id: 40), (work: 2_000, id: 7), (work: 1_000, id: 3),
                               (work: 0, id: 12), (work: MessageState.heldUntil, id: 2), (work: 2_000, id: 5)], now: now)
        #expect(backlog.total == 7 && backlog.remaining == 7)
        var order: [QueueID] = []
        while let id = backlog.next() { order.append(id) }
        #expect(order == [3, 12, 40, 5, 7, 1, 2])
        #expect(backlog.isEmpty && backlog.total == 7)
    }

    @Test func anEmptyBacklogIsEmpty() {
        var backlog = Backlog()
        #expect(backlog.isEmpty && backlog.total == 0 && backlog.next() == nil)
    }
}
