import Foundation
import Glibc
import QuailCore
import Testing

/// What happens to mail that cannot be delivered, and to its bounces; and the admin's ways to hurry retries.
@Suite(.serialized) struct BounceFlowTests {
    /// A home where `ghost@example.test` does not exist and `remote.test` is routed to a closed port.
    func home(_ name: String = #function) throws -> TestHome {
        let home = try TestHome.local(name)
        home.control("validrcptto", "user@example.test", "postmaster@example.test")
        home.control("smtproutes", "remote.test:[127.0.0.1]:1")
        return home
    }

    @Test func aBounceThatFailsGoesToDoubleBounceTo() throws {
        let home = try home()
        home.control("doublebounceto", "postmaster@example.test")
        // The recipient does not exist, and neither does the sender the bounce would go back to.
        #expect(try home.inject("Subject: nobody home\n\nx\n", to: ["nobody@example.test"], from: "ghost@example.test").status == 0)
        let send = try home.startSend()
        #expect(waitUntil { home.maildirNew("postmaster", "example.test").count == 1 }, "\(send.log)")
        #expect(waitUntil { home.queueIsEmpty() })
        send.stop()
        let double = home.read(home.maildirNew("postmaster", "example.test")[0])
        #expect(double.hasPrefix("Return-Path: <#@[]>\n"))
        #expect(double.contains("ghost@example.test"))
        #expect(home.maildirNew("ghost", "example.test").isEmpty)
    }

    @Test func aFailedDoubleBounceIsLoggedAndDropped() throws {
        let home = try home()
        home.control("doublebounceto", "nobody-either@example.test")
        #expect(try home.inject("Subject: lost cause\n\nx\n", to: ["nobody@example.test"], from: "ghost@example.test").status == 0)
        let send = try home.startSend()
        #expect(waitUntil { send.log.contains("triple bounce: discarding") }, "\(send.log)")
        #expect(waitUntil { home.queueIsEmpty() })
        send.stop()
        let mail = (try? FileManager.default.subpathsOfDirectory(atPath: home.path + "/mail")) ?? []
        #expect(mail.filter { $0.contains("/new/") }.isEmpty)
    }

    @Test func nothingIsEverSentToTheNullSender() throws {
        let home = try home()
        home.control("doublebounceto", "postmaster@example.test")
        #expect(try home.inject("Subject: from nobody\n\nx\n", to: ["nobody@example.test"], from: "").status == 0)
        let send = try home.startSend()
        // A bounce of a message from <> is a double bounce: it goes to the postmaster, never to <>.
        #expect(waitUntil { home.maildirNew("postmaster", "example.test").count == 1 }, "\(send.log)")
        #expect(waitUntil { home.queueIsEmpty() })
        send.stop()
    }

    /// The attempts quail-qread reports for the one remote recipient.
    func remoteAttempts(_ home: TestHome) -> Int {
        let listing = (try? home.queueListing()) ?? []
        let recipients = listing.first?["recipients"] as? [[String: Any]] ?? []
        return recipients.first?["attempts"] as? Int ?? 0
    }

    @Test func sigalrmAndFlushRetryAtOnce() throws {
        let home = try home()
        home.control("retryschedule", "1h")
        #expect(try home.inject("Subject: later\n\nx\n", to: ["far@remote.test"], from: "user@example.test").status == 0)
        let send = try home.startSend()
        #expect(waitUntil { remoteAttempts(home) == 1 })
        send.signal(SIGALRM)
        #expect(waitUntil { remoteAttempts(home) == 2 }, "\(send.log)")
        #expect(QueueTrigger.sendControl(home.queue, "flush other.test"))
        #expect(QueueTrigger.sendControl(home.queue, "flush REMOTE.test"))
        #expect(waitUntil { remoteAttempts(home) == 3 }, "\(send.log)")
        // Only the named domain was flushed, and with a one-hour schedule nothing else retries on its own.
        usleep(300_000)
        #expect(remoteAttempts(home) == 3)
        #expect(send.stop() == 0)
    }

    @Test func qreadSaysSoWhenTheQueueIsEmpty() throws {
        let home = try TestHome()
        let text = try Programs.run("quail-qread", environment: home.environment)
        #expect(text.status == 0 && text.stdout == "the queue is empty\n" && text.stderr.isEmpty, "\(text)")
        // --json stays what scripts parse: one object per message, so nothing at all for none.
        let json = try Programs.run("quail-qread", ["--json"], environment: home.environment)
        #expect(json.status == 0 && json.stdout.isEmpty && json.stderr.isEmpty, "\(json)")
        #expect(try home.inject("Subject: one\n\nx\n", to: ["user@example.test"]).status == 0)
        let one = try Programs.run("quail-qread", environment: home.environment).stdout
        #expect(one.contains("user@example.test") && !one.contains("empty"), "\(one)")
    }

    @Test func qreadTextListsEachRecipientWithItsState() throws {
        let home = try home()
        home.control("retryschedule", "1h")
        #expect(try home.inject("Subject: mixed\n\nx\n", to: ["user@example.test", "far@remote.test"], from: "s@example.test").status == 0)
        let before = try Programs.run("quail-qread", environment: home.environment).stdout
        #expect(before.contains("#") && before.contains("<s@example.test>  (not yet preprocessed)"))
        #expect(before.contains("\n\tlocal\tuser@example.test\n\tremote\tfar@remote.test\n"))
        let send = try home.startSend()
        #expect(waitUntil { remoteAttempts(home) == 1 })
        send.stop()
        let after = try Programs.run("quail-qread", environment: home.environment).stdout
        #expect(after.contains("\n\tdone\tlocal\tuser@example.test\n"))
        #expect(after.contains("\tremote\tfar@remote.test\t(1 attempts, next "))
    }
}
