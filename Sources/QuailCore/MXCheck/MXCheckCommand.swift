import Glibc

/// The whole of `quail-mxcheck [--json] DOMAIN [BACKUP-HOST[:PORT]]`: arguments in, report out, exit status back.
public enum MXCheckCommand {
    /// The control files quail-mxcheck reads; a broken file it does not use cannot stop it.
    static let controlFiles: Set<String> = ["me", "resolvers", "timeoutconnect", "timeoutremote", "tlsca.pem"]

    /// Runs the checks and prints them: each line as soon as it is known, or the JSON at the end.
    /// Returns 0 (nothing failed), 1 (something did), 100 (bad usage) or 111 (could not check).
    public static func run(arguments: [String], home: QuailHome) -> Int32 {
        let options: MXCheckOptions
        do {
            options = try MXCheckOptions(arguments: arguments)
        } catch {
            Diagnostics.log(lines: "quail-mxcheck: \(error)\n\(MXCheckOptions.usage)")
            return 100
        }
        var report = MXCheckReport(domain: options.domain)
        do {
            let check = try makeCheck(options, home: home)
            try check.run(
                report: { result in
                    report.results.append(result)
                    if !options.json { try? FileIO.writeAll(STDOUT_FILENO, result.description + "\n") }
                },
                found: { report.mtaSTS = $0 })
        } catch {
            report.unavailable = error
        }
        if options.json { try? FileIO.writeAll(STDOUT_FILENO, report.json) }
        if let unavailable = report.unavailable { Diagnostics.log("quail-mxcheck: cannot check: \(unavailable)") }
        return report.exitCode
    }

    /// The check as `control/` configures it: `me`, `resolvers`, `tlsca.pem`, and the timeouts, capped for a
    /// command run by hand.
    static func makeCheck(_ options: MXCheckOptions, home: QuailHome) throws(MXCheckUnavailable) -> MXCheck {
        do {
            let config = try Configuration(home: home, only: controlFiles)
            let resolver = try DNSResolver(resolvers: config.resolvers)
            let tls = try TLSContext.client(extraAuthorities: config.tlsAuthorities)
            return MXCheck(
                domain: options.domain, backup: options.backup, me: config.me, resolver: resolver, tls: tls,
                connectTimeout: min(.seconds(config.timeoutConnect), MXCheck.longestConnect),
                replyTimeout: min(.seconds(config.timeoutRemote), MXCheck.longestReply))
        } catch {
            throw MXCheckUnavailable("\(error)")
        }
    }
}
