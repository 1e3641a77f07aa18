/// DESIGN.md's backup rule: never hand mail to ourselves or to a host we rank at or below.
public enum BackupRule {
    /// An MX host with the addresses it resolved to, in the order they will be tried.
    public struct Candidate: Sendable, Equatable {
        public var host: MXHost
        public var addresses: [String]

        public init(host: MXHost, addresses: [String]) {
            self.host = host
            self.addresses = addresses
        }
    }

    /// What is left to try.
    public enum Decision: Sendable, Equatable {
        case hosts([Candidate])
        /// This host is the best MX left: delivering would loop back here.
        case loopsBack
    }

    /// Drops every candidate with an address in `ours` and every candidate whose preference is equal or
    /// higher (worse) than the best such one. qmail: qmail-remote's "relayhost is me" check on the MX list.
    ///
    /// `candidates` are sorted by preference; addresses compare by value, not spelling (`::0001` is `::1`).
    public static func apply(_ candidates: [Candidate], ours: Set<String>) -> Decision {
        let ours = Set(ours.map(canonical))
        let ourPreferences = candidates.filter { $0.addresses.contains { ours.contains(canonical($0)) } }
            .map(\.host.preference)
        guard let best = ourPreferences.min() else { return .hosts(candidates) }
        let left = candidates.filter { $0.host.preference < best }
        return left.isEmpty ? .loopsBack : .hosts(left)
    }

    /// The canonical text of an address (so `::0001` and `::1` compare equal); other text as it is.
    static func canonical(_ address: String) -> String {
        DNSAddress.octets(address).map { DNSAddress.text($0[...]) } ?? address
    }
}
