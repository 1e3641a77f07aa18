import Glibc

/// The addresses of this host, as DESIGN.md defines them: its interface addresses exactly (127.0.0.1 on
/// loopback, not all of 127/8), plus `moreipme`, less `notipme`. qmail: ipme.c
public enum LocalAddresses {
    /// The addresses under `config`, canonical text.
    public static func current(config: Configuration) -> Set<String> {
        combine(interfaces: interfaceAddresses(), more: config.moreIPMe, not: config.notIPMe)
    }

    /// `interfaces` plus `more` less `not`, all in canonical text; entries that are not addresses are ignored.
    public static func combine(interfaces: [String], more: [String], not: [String]) -> Set<String> {
        var result = Set(interfaces.map(BackupRule.canonical))
        result.formUnion(more.map(BackupRule.canonical))
        result.subtract(not.map(BackupRule.canonical))
        return result
    }

    /// Every IPv4 and IPv6 address configured on an interface, from getifaddrs(3).
    public static func interfaceAddresses() -> [String] {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0 else { return [] }
        defer { freeifaddrs(list) }
        var result: [String] = []
        var entry = list
        while let current = entry {
            defer { entry = current.pointee.ifa_next }
            guard let address = current.pointee.ifa_addr else { continue }
            switch Int32(address.pointee.sa_family) {
            case AF_INET:
                address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { pointer in
                    withUnsafeBytes(of: pointer.pointee.sin_addr) { result.append(DNSAddress.text(ArraySlice($0))) }
                }
            case AF_INET6:
                address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { pointer in
                    withUnsafeBytes(of: pointer.pointee.sin6_addr) { result.append(DNSAddress.text(ArraySlice($0))) }
                }
            default: continue
            }
        }
        return result
    }
}
