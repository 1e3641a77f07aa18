import Glibc

/// An SMTP session that ended its transaction cleanly and stays open in a remote worker for the next message
/// to the same destination (`RemoteWorker`): no connect, greeting, EHLO or QUIT for that message.
public struct KeptSession {
    public let connection: SMTPConnection
    /// The host's name and address, as the destination line reports them.
    public let host: String
    public let address: String
    /// The EHLO keywords the server offered on this session.
    public let extensions: Set<String>

    public init(connection: SMTPConnection, host: String, address: String, extensions: Set<String>) {
        self.connection = connection
        self.host = host
        self.address = address
        self.extensions = extensions
    }

    /// Nothing waits to be read: the server has neither closed the session nor said something unasked
    /// (a 421 before it closes an idle session), so the next command's reply will be the reply to it.
    public var isQuiet: Bool {
        var entry = pollfd(fd: connection.fd, events: Int16(POLLIN), revents: 0)
        return poll(&entry, 1, 0) == 0
    }

    /// Ends the session politely; its outcome is settled already, so nothing that goes wrong matters.
    public func end() {
        _ = try? connection.send(Array("QUIT\r\n".utf8))
        _ = try? connection.readReply()
    }

    /// Ends a session that cannot carry the message, without a word: on one out of step with us, a QUIT could be
    /// read as anything, even as message content, and its reply might never come.
    public func drop() {
        _ = shutdown(connection.fd, Int32(SHUT_RDWR))
    }
}
