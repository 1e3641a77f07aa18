// Fuzz target `dns`: a DNS answer as it comes off the wire, through the one parser (DNSMessage.parse), then
// what quail-remote does with a parsed answer: CNAME following and MX ordering.
import Glibc
@testable import QuailCore

/// A fixed generator, so a crash replays the same way.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDNS(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let response = try? DNSMessage.parse(bytes) else { return 0 }
    precondition(response.answers.count + response.authority.count <= size / DNSMessage.minimumRecordSize,
                 "more records than the message can hold")
    for record in response.answers + response.authority {
        precondition(record.name.utf8.count <= 4 * 255, "a name of \(record.name.utf8.count) octets")
        precondition(record.ttl & 0x8000_0000 == 0, "a TTL with its top bit set")
    }
    // Follow the chain as DNSResolver.lookup does, bounded the same way.
    var current = response.questions.first?.name ?? ""
    var hops = 0
    while let target = DNSResolver.alias(of: current, in: response.answers), hops <= 8 {
        current = target
        hops += 1
    }
    var generator = SplitMix(state: UInt64(size))
    let lookup = DNSResolver.mxHosts(for: current, from: .records(response.answers), using: &generator)
    if case .hosts(let hosts) = lookup {
        precondition(zip(hosts, hosts.dropFirst()).allSatisfy { $0.preference <= $1.preference }, "MX hosts out of order")
        precondition(hosts.allSatisfy { !$0.name.isEmpty }, "a root exchange among the hosts")
    }
    return 0
}
