import Glibc

/// Conversions between IP addresses as text and as octets in network order.
public enum DNSAddress {
    /// The text form of 4 (dotted quad) or 16 (RFC 5952) octets.
    public static func text(_ octets: ArraySlice<UInt8>) -> String {
        if octets.count == 4 { return octets.map(String.init).joined(separator: ".") }
        precondition(octets.count == 16, "an IP address has 4 or 16 octets")
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        Array(octets).withUnsafeBytes { raw in
            _ = inet_ntop(AF_INET6, raw.baseAddress, &buffer, socklen_t(buffer.count))
        }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The 4 or 16 octets of an IPv4 or IPv6 address literal; `nil` for anything else (a host name).
    public static func octets(_ text: String) -> [UInt8]? {
        var octets = [UInt8](repeating: 0, count: 16)
        if inet_pton(AF_INET, text, &octets) == 1 { return Array(octets.prefix(4)) }
        if inet_pton(AF_INET6, text, &octets) == 1 { return octets }
        return nil
    }
}
