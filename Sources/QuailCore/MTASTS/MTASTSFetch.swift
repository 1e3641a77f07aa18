/// Fetches a domain's MTA-STS policy: `https://mta-sts.DOMAIN/.well-known/mta-sts.txt` on port 443 (RFC 8461
/// §3.3), the certificate verified for `mta-sts.DOMAIN` against the system store plus `tlsca.pem`, no redirect
/// followed, at most `maximumBody` bytes of policy, the whole within `deadline`.
struct MTASTSFetch {
    var resolver: DNSResolver
    var tls: TLSContext
    var connectTimeout: Duration
    /// The whole fetch, from the first connect to the last byte.
    var deadline: Duration = .seconds(60)

    /// RFC 8461 §3.3 leaves the bound to the sender; a policy is a few lines.
    static let maximumBody = 65536
    static let maximumHeader = 16384

    /// The policy's text, or why there is none to be had now.
    func fetch(_ domain: String) -> Result<String, MTASTSFailure> {
        let host = "mta-sts." + Address.normalizedDomain(domain)
        let addresses: [String]
        switch resolver.addresses(of: host) {
        case .addresses(let found): addresses = found
        case .noSuchDomain, .noAddresses: return .failure(MTASTSFailure("\(host) has no address"))
        case .temporaryFailure(let reason): return .failure(MTASTSFailure("DNS: \(reason)"))
        }
        let until = ContinuousClock.now + deadline
        var last = MTASTSFailure("no address to try")
        for address in addresses.prefix(2) {
            switch fetch(host: host, address: address, until: until) {
            case .success(let text): return .success(text)
            case .failure(let failure): last = failure
            }
        }
        return .failure(last)
    }

    private func fetch(host: String, address: String, until: ContinuousClock.Instant) -> Result<String, MTASTSFailure> {
        do throws(MTASTSFailure) {
            // A TCP connection made as SMTP's are, bounded by timeoutconnect; TLS goes over its socket.
            let socket: SMTPConnection
            do {
                socket = try SMTPConnection.open(to: address, port: 443, connectTimeout: connectTimeout, replyTimeout: deadline)
            } catch { throw MTASTSFailure("\(host) [\(address)]:443: \(error)") }
            let session: TLSConnection
            do {
                session = try TLSConnection(tls, readFD: socket.fd, writeFD: socket.fd, serverName: host)
                try session.connect(deadline: until)
            } catch { throw MTASTSFailure("\(host) [\(address)]:443: \(error)") }
            if let failure = session.verificationFailure {
                throw MTASTSFailure("\(host) [\(address)]:443: the certificate does not verify: \(failure)")
            }
            let request = "GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: \(host)\r\nUser-Agent: quail\r\nConnection: close\r\n\r\n"
            var response: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 16384)
            do {
                try session.write(Array(request.utf8), deadline: until)
                while response.count <= Self.maximumHeader + Self.maximumBody {
                    let count = try chunk.withUnsafeMutableBytes { buffer in
                        Result { () throws(TLSError) in try session.read(into: buffer, deadline: until) }
                    }.get()
                    if count == 0 { break }
                    response += chunk[..<count]
                }
            } catch { throw MTASTSFailure("\(host): \(error)") }
            session.shutdown()
            return .success(try Self.policyText(of: response, host: host))
        } catch {
            return .failure(error)
        }
    }

    /// The body of an HTTP/1.1 response that is a 200 with `text/plain` (RFC 8461 §3.3), chunked or not.
    static func policyText(of response: [UInt8], host: String) throws(MTASTSFailure) -> String {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let split = response.firstRange(of: separator) else { throw MTASTSFailure("\(host): no complete HTTP header") }
        let head = String(decoding: response[..<split.lowerBound], as: UTF8.self)
        var body = Array(response[split.upperBound...])
        var lines = head.split(separator: "\r\n").map(String.init)
        let status = lines.isEmpty ? "" : lines.removeFirst()
        let statusFields = status.split(separator: " ")
        guard statusFields.count >= 2, statusFields[0].hasPrefix("HTTP/1."), statusFields[1] == "200" else {
            throw MTASTSFailure("\(host): \(LocalReply.printable(status)) (a policy must come with 200; redirects are not followed)")
        }
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = String(line[line.index(after: colon)...]).trimmingWhitespace()
        }
        let type = headers["content-type"]?.split(separator: ";").first.map { String($0).trimmingWhitespace().lowercased() }
        guard type == "text/plain" else { throw MTASTSFailure("\(host): the policy is \(type ?? "untyped"), not text/plain") }
        if headers["transfer-encoding"]?.lowercased() == "chunked" { body = try dechunk(body, host: host) }
        if let length = headers["content-length"].flatMap(Int.init), length <= body.count { body = Array(body.prefix(length)) }
        guard body.count <= maximumBody else { throw MTASTSFailure("\(host): the policy is over \(maximumBody) bytes") }
        return String(decoding: body, as: UTF8.self)
    }

    /// Joins the chunks of a chunked body (RFC 9112 §7.1); trailers are ignored.
    static func dechunk(_ body: [UInt8], host: String) throws(MTASTSFailure) -> [UInt8] {
        var result: [UInt8] = []
        var rest = body[...]
        while true {
            guard let lineEnd = rest.firstRange(of: [13, 10]) else { throw MTASTSFailure("\(host): a chunk is cut short") }
            let sizeText = String(decoding: rest[..<lineEnd.lowerBound], as: UTF8.self).split(separator: ";").first ?? ""
            guard let size = Int(sizeText.trimmingCharacters(), radix: 16), size >= 0 else {
                throw MTASTSFailure("\(host): a bad chunk size")
            }
            rest = rest[lineEnd.upperBound...]
            if size == 0 { return result }
            guard rest.count >= size + 2, result.count + size <= maximumBody else { throw MTASTSFailure("\(host): a chunk is cut short or too long") }
            result += rest.prefix(size)
            rest = rest.dropFirst(size + 2)
        }
    }
}

/// Why a domain's MTA-STS policy could not be had now: one line for the log.
public struct MTASTSFailure: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

extension Substring {
    fileprivate func trimmingCharacters() -> String { String(self).trimmingWhitespace() }
}
