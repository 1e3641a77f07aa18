/// An envelope address split at its last `@`: the local part keeps its case, the domain is lowercased
/// and loses a trailing dot (`user@domain.` is `user@domain`).
public struct Address: Sendable, Hashable, CustomStringConvertible {
    public var localPart: String
    public var domain: String

    public init(localPart: String, domain: String) {
        self.localPart = localPart
        self.domain = Address.normalizedDomain(domain)
    }

    /// Parses `local@domain`; `nil` when there is no `@` or either side is empty.
    public init?(_ text: String) {
        guard let at = text.lastIndex(of: "@") else { return nil }
        let local = String(text[..<at])
        let domain = String(text[text.index(after: at)...])
        guard !local.isEmpty, !domain.isEmpty else { return nil }
        self.init(localPart: local, domain: domain)
    }

    public var description: String { "\(localPart)@\(domain)" }

    /// The domain lowercased, without one trailing dot.
    public static func normalizedDomain(_ domain: String) -> String {
        var result = domain.lowercased()
        if result.hasSuffix(".") { result.removeLast() }
        return result
    }

    /// The domain part of an address as quail routes by it (lowercased); empty when there is none.
    public static func domain(of address: String) -> String {
        guard let at = address.lastIndex(of: "@") else { return "" }
        return normalizedDomain(String(address[address.index(after: at)...]))
    }
}
