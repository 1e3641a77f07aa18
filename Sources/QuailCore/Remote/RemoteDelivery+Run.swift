import Glibc

extension RemoteDelivery {
    /// quail-remote's whole job: reads control files under `home` and the message on stdin, delivers, and
    /// returns what to print. A configuration or input problem is a temporary failure for every recipient.
    public static func run(home: QuailHome, domain: String, sender: String, recipients: [String]) -> RemoteReport {
        let config: Configuration
        do {
            config = try Configuration(home: home)
        } catch {
            return RemoteReport(
                all: .deferred(RemoteReply.unreadableControl(error)), count: recipients.count,
                destination: .down("\(error)"))
        }
        let message: [UInt8]
        do {
            message = try FileIO.readAll(STDIN_FILENO)
        } catch {
            return RemoteReport(
                all: .deferred(RemoteReply.unreadableMessage(error)), count: recipients.count,
                destination: .down("\(error)"))
        }
        let delivery = RemoteDelivery(config: config, localAddresses: LocalAddresses.current(config: config))
        return delivery.deliver(domain: domain, sender: sender, recipients: recipients, message: message)
    }
}
