extension MXCheck {
    /// The domain's MTA-STS record and policy, looked up and fetched afresh (no cache: what a sender that has
    /// never seen the domain gets).
    func mtaSTS() throws(MXCheckUnavailable) -> MTASTSLookup {
        let texts: [String]
        switch resolver.lookup("_mta-sts." + domain, .txt) {
        case .records(let records):
            texts = records.compactMap {
                if case .txt(let strings) = $0.data { String(decoding: strings.joined(), as: UTF8.self) } else { nil }
            }
        case .noSuchDomain, .noRecords: return .none
        case .temporaryFailure(let reason): throw MXCheckUnavailable("DNS: \(reason)")
        }
        // RFC 8461 §3.1: of several records that start with v=STSv1, none counts.
        let claimed = texts.filter { $0.hasPrefix("v=STSv1") }
        guard let text = claimed.first else { return .none }
        guard claimed.count == 1 else { return .badRecord("\(claimed.count) TXT records start with v=STSv1") }
        guard let record = MTASTSRecord(text) else {
            return .badRecord("\"\(text)\" has no valid id (1 to 32 letters and digits)")
        }
        let fetch = MTASTSFetch(
            resolver: resolver, tls: tls, connectTimeout: connectTimeout, deadline: connectTimeout + replyTimeout)
        switch fetch.fetch(domain) {
        case .failure(let failure): return .unfetchable(id: record.id, reason: failure.description)
        case .success(let text):
            guard let policy = MTASTSPolicy(text) else { return .invalidPolicy(id: record.id) }
            return .found(id: record.id, policy)
        }
    }

    /// Connects, reads the greeting and, after a 220, tries STARTTLS as a sender would: EHLO, STARTTLS, the
    /// handshake with `name` as SNI and as the name the certificate must carry. Then QUIT; never MAIL.
    func visit(_ name: String, _ address: String, _ port: UInt16)
        -> (greeting: Result<ServerReply, RemoteConnectionError>, tls: STARTTLSOutcome?)
    {
        let connection: SMTPConnection
        let greeting: ServerReply
        do {
            connection = try SMTPConnection.open(
                to: address, port: Int(port), connectTimeout: connectTimeout, replyTimeout: replyTimeout)
            greeting = try connection.readReply()
        } catch {
            return (.failure(error), nil)
        }
        guard greeting.code == 220 else {
            quit(connection)
            return (.success(greeting), nil)
        }
        return (.success(greeting), startTLS(on: connection, name: name))
    }

    private func startTLS(on connection: SMTPConnection, name: String) -> STARTTLSOutcome {
        do {
            let hello = try command(connection, "EHLO \(me)")
            if hello.isTemporaryFailure {
                quit(connection)
                return .failed("EHLO \(me): \(hello)")
            }
            guard hello.isPositive, hello.extensions.contains("STARTTLS") else {
                quit(connection)
                return .notOffered
            }
            let reply = try command(connection, "STARTTLS")
            guard reply.code == 220 else {
                quit(connection)
                return .refused(reply)
            }
            try connection.startTLS(tls, serverName: name)
            quit(connection)
            return connection.tls.map { .established($0) } ?? .failed("no TLS session")
        } catch {
            return .failed("\(error)")
        }
    }

    private func command(_ connection: SMTPConnection, _ line: String) throws(RemoteConnectionError) -> ServerReply {
        try connection.send(Array((line + "\r\n").utf8))
        return try connection.readReply()
    }

    private func quit(_ connection: SMTPConnection) {
        if (try? connection.send(Array("QUIT\r\n".utf8))) != nil { _ = try? connection.readReply() }
    }
}
