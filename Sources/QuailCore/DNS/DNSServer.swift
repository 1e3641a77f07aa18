import Glibc

/// Why the list of DNS servers could not be made; a temporary failure for whoever needed DNS.
public enum DNSConfigError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A `resolvers` line that is not `ip`, `ip:port`, `[ipv6]` or `[ipv6]:port`.
    case badServer(String)
    /// `/etc/resolv.conf` exists but could not be read (qmail's rule: unreadable is temporary).
    case unreadable(path: String, Errno)

    public var description: String {
        switch self {
        case .badServer(let line): "bad DNS server address: \(line)"
        case .unreadable(let path, let error): "cannot read \(path): \(error)"
        }
    }
}

/// One DNS server to ask: an IP address and a port.
public struct DNSServer: Sendable, Hashable, CustomStringConvertible {
    /// 4 octets for IPv4, 16 for IPv6, in network order.
    public var octets: [UInt8]
    /// The UDP and TCP port, 53 by default.
    public var port: UInt16

    public init(octets: [UInt8], port: UInt16 = 53) {
        precondition(octets.count == 4 || octets.count == 16, "an IP address has 4 or 16 octets")
        self.octets = octets
        self.port = port
    }

    /// Parses a `control/resolvers` line: `ip`, `ip:port`, `[ipv6]`, `[ipv6]:port`, or a bare IPv6 address.
    public init(parsing line: String) throws(DNSConfigError) {
        guard let address = SocketAddress(parsing: line, defaultPort: 53), address.port != 0 else { throw .badServer(line) }
        self.init(octets: address.octets, port: address.port)
    }

    /// The servers of a resolv.conf text: its `nameserver` lines, in order (resolv.conf(5)).
    ///
    /// With none, libc asks the local host, and so does quail. Scoped IPv6 addresses (`fe80::1%eth0`)
    /// are skipped: a scope needs an interface index this plain list cannot carry.
    public static func fromResolvConf(_ text: String) -> [DNSServer] {
        var servers: [DNSServer] = []
        for line in text.split(whereSeparator: \.isNewline) {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count >= 2, fields[0] == "nameserver", let octets = DNSAddress.octets(String(fields[1])) else {
                continue
            }
            servers.append(DNSServer(octets: octets))
        }
        return servers.isEmpty ? [DNSServer(octets: [127, 0, 0, 1])] : servers
    }

    /// The servers of the resolv.conf file at `path`; a missing file means the local host.
    public static func fromResolvConf(path: String = "/etc/resolv.conf") throws(DNSConfigError) -> [DNSServer] {
        do {
            let bytes = try FileIO.readFile(path) ?? []
            return fromResolvConf(String(decoding: bytes, as: UTF8.self))
        } catch {
            throw .unreadable(path: path, error)
        }
    }

    public var description: String { SocketAddress(octets: octets, port: port).description }

    /// Calls `body` with this server as a socket address, for `connect(2)`.
    func withSocketAddress<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        SocketAddress(octets: octets, port: port).withSockaddr(body)
    }
}
