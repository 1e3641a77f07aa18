/// What one remote delivery may spend, whatever the DNS answer holds and the servers do (DESIGN.md, "A delivery
/// is bounded"). Postfix: smtp_mx_address_limit, smtp_mx_session_limit.
public struct DeliveryLimits: Sendable, Equatable {
    /// Addresses tried per delivery, in MX order: a stranger's DNS can list a hundred hosts that never greet.
    public var addresses: Int
    /// Sessions that reached a greeting and still delivered nothing (a refusing greeting) per delivery.
    public var sessions: Int
    /// The whole delivery, from the first DNS query to the last reply: a connect and a reply timeout for each
    /// address it may try. A server that answers each command just inside `timeoutremote`, or takes the
    /// message a byte at a time, holds a worker no longer than this.
    public var duration: Duration

    public static let defaultAddresses = 5
    public static let defaultSessions = 2

    public init(addresses: Int = defaultAddresses, sessions: Int = defaultSessions, duration: Duration) {
        self.addresses = addresses
        self.sessions = sessions
        self.duration = duration
    }

    /// The limits for `config`'s timeouts.
    public init(config: Configuration) {
        self.init(duration: .seconds(Self.defaultAddresses * (config.timeoutConnect + config.timeoutRemote)))
    }
}
