/// Who is on the other end, from the UCSPI environment tcpserver (or our own listener) sets.
public struct ConnectionContext: Sendable {
    public var remoteIP: String
    public var remoteHost: String?
    public var localIP: String
    public var localHost: String?
    /// `RELAYCLIENT` is set (to anything, even empty): the client may relay.
    public var relayClient: Bool

    public init(remoteIP: String, remoteHost: String? = nil, localIP: String = "", localHost: String? = nil, relayClient: Bool = false) {
        self.remoteIP = remoteIP
        self.remoteHost = remoteHost
        self.localIP = localIP
        self.localHost = localHost
        self.relayClient = relayClient
    }

    /// The context described by `TCPREMOTEIP`, `TCPREMOTEHOST`, `TCPLOCALIP`, `TCPLOCALHOST`, `RELAYCLIENT`.
    public static func fromEnvironment() -> ConnectionContext {
        ConnectionContext(
            remoteIP: Environment.nonEmpty("TCPREMOTEIP") ?? "unknown", remoteHost: Environment.nonEmpty("TCPREMOTEHOST"),
            localIP: Environment.nonEmpty("TCPLOCALIP") ?? "", localHost: Environment.nonEmpty("TCPLOCALHOST"),
            relayClient: Environment.value("RELAYCLIENT") != nil)
    }
}
