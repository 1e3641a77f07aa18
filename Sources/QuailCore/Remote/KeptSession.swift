import Glibc

/// An SMTP session that ended its transaction cleanly and stays open for the next message to the same
/// destination, as Postfix's connection cache keeps them: no connect, greeting, EHLO or QUIT for that message.
///
/// quail-remote hands a kept session back to quail-send over its stdout (a Unix socket then) as a descriptor
/// with the line `C<handover text>`; quail-send holds it idle for a moment and gives it to the next quail-remote
/// for that destination as descriptor 3, described by `$QUAILCONNECTION`. Run by hand (stdout not a socket),
/// quail-remote ends the session with QUIT as before.
public struct KeptSession {
    public let connection: SMTPConnection
    /// The host's name and address, as the destination line reports them.
    public let host: String
    public let address: String
    /// The EHLO keywords the server offered on this session.
    public let extensions: Set<String>

    /// The descriptor a handed-over session arrives on.
    public static let descriptor: Int32 = 3
    /// The variable that describes it: `HOST ADDRESS KEYWORD...`.
    public static let environmentName = "QUAILCONNECTION"

    public init(connection: SMTPConnection, host: String, address: String, extensions: Set<String>) {
        self.connection = connection
        self.host = host
        self.address = address
        self.extensions = extensions
    }

    /// The session on descriptor 3 that `text` describes; nil when the text is not a description or
    /// descriptor 3 is not a socket (then it is not ours to touch).
    public init?(handedOver text: String, replyTimeout: Duration) {
        let fields = text.split(separator: " ").map(String.init)
        var info = stat()
        guard fields.count >= 2, fstat(Self.descriptor, &info) == 0, info.st_mode & S_IFMT == S_IFSOCK else { return nil }
        self.init(connection: SMTPConnection(adopting: Self.descriptor, timeout: replyTimeout), host: fields[0],
                  address: fields[1], extensions: Set(fields.dropFirst(2)))
    }

    /// `HOST ADDRESS KEYWORD...`: what `$QUAILCONNECTION` and the handover line carry.
    public var handoverText: String {
        ([host, address] + extensions.sorted()).joined(separator: " ")
    }

    /// Nothing waits to be read: the server has neither closed the session nor said something unasked
    /// (a 421 before it closes an idle session), so the next command's reply will be the reply to it.
    public var isQuiet: Bool { Self.isQuiet(connection.fd) }

    public static func isQuiet(_ fd: Int32) -> Bool {
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&entry, 1, 0) == 0
    }

    /// Gives the session to whoever reads `socket` (quail-send); false when that is not possible (not a
    /// socket: quail-remote run by hand), and the caller ends the session itself.
    public func handBack(over socket: Int32) -> Bool {
        (try? DescriptorPassing.send(connection.fd, over: socket, payload: Array("C\(handoverText)\n".utf8))) != nil
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

    /// The keywords and host of a handover line (`C` and the handover text), for quail-send.
    public static func handoverText(ofLine line: some StringProtocol) -> String? {
        line.hasPrefix("C") ? String(line.dropFirst()) : nil
    }
}
