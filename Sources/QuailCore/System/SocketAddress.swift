import Glibc

/// An IP address and a port: what `connect`, `bind` and `accept` speak, for quail's DNS client, SMTP client
/// and SMTP listener alike.
public struct SocketAddress: Sendable, Hashable, CustomStringConvertible {
    /// 4 octets for IPv4, 16 for IPv6, in network order.
    public var octets: [UInt8]
    public var port: UInt16

    public init(octets: [UInt8], port: UInt16) {
        precondition(octets.count == 4 || octets.count == 16, "an IP address has 4 or 16 octets")
        self.octets = octets
        self.port = port
    }

    /// Parses `ip`, `ip:port`, `[ipv6]`, `[ipv6]:port`, or a bare IPv6 address. Without `defaultPort`
    /// the port must be given. `nil` for anything else, host names included.
    public init?(parsing text: String, defaultPort: UInt16? = nil) {
        var host = Substring(text)
        var portText: Substring?
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":") else { return nil }
                portText = rest.dropFirst()
            }
        } else if text.filter({ $0 == ":" }).count == 1, let colon = text.firstIndex(of: ":") {
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        guard let octets = DNSAddress.octets(String(host)) else { return nil }
        guard let port = portText.map({ UInt16($0) }) ?? defaultPort else { return nil }
        self.init(octets: octets, port: port)
    }

    /// The address `accept` or `getsockname` filled in; `nil` for a family other than IPv4 or IPv6.
    public init?(_ storage: sockaddr_storage) {
        var storage = storage
        switch Int32(storage.ss_family) {
        case AF_INET:
            let address = withUnsafeBytes(of: &storage) { $0.load(as: sockaddr_in.self) }
            self.init(octets: withUnsafeBytes(of: address.sin_addr) { Array($0) }, port: UInt16(bigEndian: address.sin_port))
        case AF_INET6:
            let address = withUnsafeBytes(of: &storage) { $0.load(as: sockaddr_in6.self) }
            self.init(octets: withUnsafeBytes(of: address.sin6_addr) { Array($0) }, port: UInt16(bigEndian: address.sin6_port))
        default:
            return nil
        }
    }

    public var isIPv6: Bool { octets.count == 16 }
    /// `AF_INET` or `AF_INET6`, for `socket(2)`.
    public var family: Int32 { isIPv6 ? AF_INET6 : AF_INET }
    /// The address as text, without the port (as the UCSPI variables give it).
    public var host: String { DNSAddress.text(octets[...]) }
    public var description: String { isIPv6 ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Calls `body` with this address as a `sockaddr`, for `connect(2)` and `bind(2)`.
    public func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        if !isIPv6 {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = port.bigEndian
            withUnsafeMutableBytes(of: &address.sin_addr) { $0.copyBytes(from: octets) }
            return withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
        var address = sockaddr_in6()
        address.sin6_family = sa_family_t(AF_INET6)
        address.sin6_port = port.bigEndian
        withUnsafeMutableBytes(of: &address.sin6_addr) { $0.copyBytes(from: octets) }
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
        }
    }

    /// The local or peer address of socket `fd` (`getsockname` or `getpeername`).
    public static func of(_ fd: Int32, peer: Bool) -> SocketAddress? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { peer ? getpeername(fd, $0, &length) : getsockname(fd, $0, &length) }
        }
        return result == 0 ? SocketAddress(storage) : nil
    }
}
