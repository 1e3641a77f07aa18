/// The `greeting` check: an MX host answers on its SMTP port with a 220 greeting that names it as the DNS
/// does (RFC 5321 §4.3.1: the greeting starts with the server's domain).
public enum GreetingCheck {
    /// The name a greeting gives: the first word after `220`, lowercased, without a trailing dot.
    public static func name(in greeting: ServerReply) -> String? {
        guard let word = greeting.lines.first?.split(separator: " ").first, !word.isEmpty else { return nil }
        return DNSQuery.normalize(String(word))
    }

    /// Judges what one address of `host` said on connecting, or why it could not be reached.
    ///
    /// A name that differs is a WARN: mail still flows, but the admin has two names for one host, which
    /// is how sendmail's "mail loops back to me" starts. No greeting at all is a FAIL: senders cannot deliver.
    public static func judge(
        host: String, address: String, port: UInt16, greeting: Result<ServerReply, RemoteConnectionError>
    )
        -> CheckResult
    {
        let place = "\(host) \(Self.place(address, port))"
        let reply: ServerReply
        switch greeting {
        case .failure(let error):
            return CheckResult(.fail, .greeting, "\(place): \(error): senders cannot deliver there")
        case .success(let received):
            reply = received
        }
        guard reply.code == 220 else {
            return CheckResult(.fail, .greeting, "\(place) greets with \(reply): it does not take mail now")
        }
        guard let name = name(in: reply) else {
            return CheckResult(.warn, .greeting, "\(place) greets without a name: \(reply)")
        }
        if name == DNSQuery.normalize(host) {
            return CheckResult(.pass, .greeting, "\(place) greets as \(name)")
        }
        return CheckResult(.warn, .greeting, "\(place) greets as \(name), not as its MX name \(host)")
    }

    /// `[192.0.2.1]:25` or `[2001:db8::1]:25`, as quail writes an address with its port.
    static func place(_ address: String, _ port: UInt16) -> String { "[\(address)]:\(port)" }
}
