import Glibc

/// A message quail-send holds in memory while it is in `mess/`.
final class QueuedMessage {
    let id: QueueID
    var state: MessageState
    /// Recipients waiting for a delivery slot or being delivered; they are never scheduled twice.
    var inFlight: Set<Int> = []
    /// The earliest time pushed on the timer heap and not yet popped.
    var scheduledDue: Int?
    /// Recipients waiting for a destination that is down, with its name: no attempts of their own until it
    /// recovers. The name is kept because a reload may route the recipient elsewhere meanwhile.
    var parked: [Int: String] = [:]
    /// Final results (delivered, failed) recorded in `state` since it was last saved.
    var unsavedResults = 0

    init(id: QueueID, state: MessageState) {
        self.id = id
        self.state = state
    }

    /// Pending recipients that are neither in flight nor parked.
    var waitingRecipients: [Int] {
        state.recipients.indices.filter { state.recipients[$0].status == .pending && !inFlight.contains($0) && parked[$0] == nil }
    }

    var hasUnbouncedFailures: Bool { state.recipients.contains { $0.status == .failed } }
}

/// Work waiting for a delivery slot: one message and the recipients one program run takes.
struct DeliveryTask {
    let id: QueueID
    let recipients: [Int]
}

/// A delivery a worker is doing.
struct RunningDelivery {
    let number: Int
    let id: QueueID
    let recipients: [Int]
    let channel: Channel
    /// For a remote delivery, the destination it goes to.
    let destination: String?
}

/// A first-in, first-out queue that does not shift its storage on every removal.
struct FIFO<Element> {
    private var storage: [Element] = []
    private var head = 0

    var isEmpty: Bool { head == storage.count }

    mutating func append(_ element: Element) { storage.append(element) }

    mutating func popFirst() -> Element? {
        guard head < storage.count else { return nil }
        let element = storage[head]
        head += 1
        if head > 1024 && head * 2 > storage.count {
            storage.removeFirst(head)
            head = 0
        }
        return element
    }
}
