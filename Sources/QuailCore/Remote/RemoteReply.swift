/// The texts quail-remote reports for failures of its own (not a server's reply), each with its RFC 3463
/// status code, in one table as qmail keeps its `perm_*`/`temp_*` texts. They reach the log and, for
/// permanent failures, the bounce the sender reads.
public enum RemoteReply {
    public static let usage = "usage: quail-remote HOST SENDER RECIPIENT... (#4.3.5)"
    public static let nullMX = "domain does not accept mail: it has a null MX record, RFC 7505 (#5.1.10)"

    public static func noSuchDomain(_ domain: String) -> String {
        "Sorry, I couldn't find any host named \(LocalReply.printable(domain)) (#5.1.2)"
    }

    public static func noAddresses(_ domain: String) -> String {
        "Sorry, I couldn't find a mail exchanger or IP address for \(LocalReply.printable(domain)) (#5.4.4)"
    }

    public static func dnsFailure(_ reason: String) -> String {
        "temporary DNS failure: \(LocalReply.printable(reason)) (#4.4.3)"
    }

    public static func dnsConfiguration(_ error: DNSConfigError) -> String { "\(error) (#4.3.0)" }

    public static func unreadableControl(_ error: ControlError) -> String { "\(error) (#4.3.0)" }

    public static func unreadableMessage(_ errno: Errno) -> String { "unable to read the message: \(errno) (#4.3.0)" }

    /// DESIGN.md's backup rule left no host: the mail waits rather than loop back here.
    public static func loopsBack(_ domain: String) -> String {
        let domain = LocalReply.printable(domain)
        return "this host is the best MX for \(domain) and \(domain) is not in locals (loops back to myself) (#4.4.6)"
    }

    /// The `Hdown` reason for the backup rule.
    public static let loopsBackReason = "loops back to myself"

    /// No address of any host took a connection and greeted; `last` says what happened on the last try.
    public static func unreachable(_ domain: String, last: String) -> String {
        "could not reach any mail exchanger for \(LocalReply.printable(domain)); last: \(last) (#4.4.1)"
    }

    /// A connection that failed after the greeting: the recipients not yet finished wait for another try.
    public static func connectionLost(_ host: String, _ error: RemoteConnectionError) -> String {
        "connection to \(host) lost: \(error) (#4.4.2)"
    }

    /// An envelope address no valid RFC 5321 path can be made of; it never goes out.
    public static func unsafeAddress(_ address: String) -> String {
        "address \"\(LocalReply.printable(address))\" is not a valid RFC 5321 mailbox (#5.1.3)"
    }

    /// The server refused quail's EHLO and HELO alike.
    public static func nameRejected(_ host: String, _ reply: ServerReply) -> String {
        "connected to \(host) but my name was rejected: \(reply) (#4.3.0)"
    }

    public static func mtaSTSNoMatch(_ domain: String, _ policy: MTASTSPolicy) -> String {
        "no MX host of \(domain) is named by its MTA-STS policy (mx: \(policy.mx.joined(separator: ", "))) (#4.7.5)"
    }

    public static func tlsNotOffered(_ host: String, _ level: TLSLevel) -> String {
        "\(host) does not offer STARTTLS, and TLS is required (\(level.rawValue)) (#4.7.5)"
    }

    public static func tlsRefused(_ host: String, _ reply: ServerReply) -> String {
        "\(host) refused STARTTLS, and TLS is required: \(reply) (#4.7.5)"
    }

    public static func tlsUnverified(_ host: String, _ failure: String) -> String {
        "the certificate of \(host) does not verify: \(failure) (#4.7.5)"
    }
}
