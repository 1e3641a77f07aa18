/// A set of domain rules as in `rcpthosts`: `example.com` matches exactly that domain (HOST rule),
/// `.example.com` every subdomain of it; list both for the DOMAIN rule.
public struct DomainList: Sendable, Equatable {
    public private(set) var exact: Set<String> = []
    public private(set) var suffixes: [String] = []

    public init(_ entries: [String] = []) {
        for entry in entries { insert(entry) }
    }

    public mutating func insert(_ entry: String) {
        let normalized = Address.normalizedDomain(entry)
        if normalized.hasPrefix(".") { suffixes.append(normalized) } else { exact.insert(normalized) }
    }

    public var isEmpty: Bool { exact.isEmpty && suffixes.isEmpty }

    /// Whether `domain` is listed, compared case-insensitively and without a trailing dot.
    public func contains(_ domain: String) -> Bool {
        let normalized = Address.normalizedDomain(domain)
        if exact.contains(normalized) { return true }
        return suffixes.contains { normalized.hasSuffix($0) }
    }
}
