/// Why one query got no usable answer from any server; its text names the last server's failure.
struct DNSQueryFailure: Error, CustomStringConvertible {
    var description: String
}

extension DNSResolver {
    /// Asks each server in turn, `triesPerServer` rounds; returns the first NOERROR or NXDOMAIN answer.
    ///
    /// A server that answers SERVFAIL, REFUSED or the like is not asked again: it has answered, and
    /// asking it twice within seconds rarely changes its mind.
    func exchange(_ query: DNSQuery) throws(DNSQueryFailure) -> DNSResponse {
        var lastFailure = "no answer"
        var answered: Set<Int> = []
        for _ in 0..<triesPerServer {
            for (index, server) in servers.enumerated() where !answered.contains(index) {
                do {
                    let response = try ask(server, query)
                    if response.responseCode == .noError || response.responseCode == .nameError { return response }
                    answered.insert(index)
                    lastFailure = "\(server) answered \(response.responseCode)"
                } catch {
                    lastFailure = "\(server): \(error)"
                }
            }
        }
        throw DNSQueryFailure(description: lastFailure)
    }

    /// One try: a UDP query, repeated over TCP when the answer is truncated (RFC 1035 §4.2.1, RFC 7766 §5).
    func ask(_ server: DNSServer, _ query: DNSQuery) throws(DNSQueryFailure) -> DNSResponse {
        do {
            let socket = try DNSSocket.open(to: server, stream: false, deadline: .now + timeout)
            try socket.send(query.bytes)
            while true {
                // Datagrams that are not the answer to this query (spoofed, late, stray) are dropped.
                let datagram = try socket.receive(limit: Self.udpLimit)
                guard let response = try Self.answer(to: query, in: datagram) else { continue }
                if !response.isTruncated { return response }
                break
            }
            // RFC 1035 §4.2.2: over TCP each message is prefixed with its length in two octets.
            let stream = try DNSSocket.open(to: server, stream: true, deadline: .now + timeout)
            let length = query.bytes.count
            try stream.send([UInt8(length >> 8), UInt8(length & 0xFF)] + query.bytes)
            let prefix = try stream.receiveExactly(2)
            let message = try stream.receiveExactly(Int(prefix[0]) << 8 | Int(prefix[1]))
            guard let response = try Self.answer(to: query, in: message) else {
                throw DNSQueryFailure(description: "TCP answer does not match the query")
            }
            guard !response.isTruncated else { throw DNSQueryFailure(description: "answer truncated over TCP") }
            return response
        } catch let error as DNSQueryFailure {
            throw error
        } catch let error as DNSParseError {
            throw DNSQueryFailure(description: "malformed answer: \(error)")
        } catch {
            throw DNSQueryFailure(description: "\(error)")
        }
    }

    /// The parsed response if `bytes` answers `query`, `nil` if it is someone else's message.
    ///
    /// The id is checked before parsing, so only a message that claims to be ours can fail the try.
    static func answer(to query: DNSQuery, in bytes: [UInt8]) throws(DNSParseError) -> DNSResponse? {
        guard bytes.count >= 2, UInt16(bytes[0]) << 8 | UInt16(bytes[1]) == query.id else { return nil }
        let response = try DNSMessage.parse(bytes)
        guard response.isResponse, response.opcode == 0, response.questions.count == 1 else { return nil }
        let question = response.questions[0]
        guard question.name == query.name, question.type == query.type, question.recordClass == DNSMessage.classIN
        else {
            return nil
        }
        return response
    }
}
