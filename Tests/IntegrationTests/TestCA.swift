import Foundation
import Glibc
import QuailCore
import Testing

/// A certificate authority made with the `openssl` command, once per test process, and the server certificates
/// the TLS tests need, signed by it (EC P-256 keys: quick to make). Clients trust `certificatePath`; a server gets
/// a `Certificate`'s `combinedPath` as its `control/servercert.pem`.
///
/// The directory is readable by every user (Postfix's smtp client reads the CA file as `postfix`); it holds
/// nothing but throw-away keys, and is removed when the test process exits.
final class TestCA: Sendable {
    /// The test process's authority, made on first use; the error when `openssl` could not make it.
    static let shared: Result<TestCA, any Error> = Result { try TestCA() }

    static func get() throws -> TestCA { try shared.get() }

    /// One certificate and its key, in files of their own and together.
    struct Certificate: Sendable {
        /// The DNS names it is for (subjectAltName), the first also its CN.
        let names: [String]
        /// The serial number in upper-case hex, as `openssl x509 -serial` and Python's `getpeercert()` print it.
        let serial: String
        let certificatePath: String
        let keyPath: String
        /// The certificate then its key, as `control/servercert.pem` holds them.
        let combinedPath: String
    }

    /// How long a certificate is valid.
    enum Validity: Sendable {
        /// From now for this many days (`openssl x509 -days`).
        case days(Int)
        /// January 2020, long past (`openssl ca -startdate -enddate`).
        case expired
    }

    let directory: String
    /// The authority's own certificate: what clients trust (`-CAfile`, `cafile=`, `smtp_tls_CAfile`).
    var certificatePath: String { directory + "/ca.pem" }
    private var keyPath: String { directory + "/ca.key" }

    /// `backup.test`, valid for a year.
    let backup: Certificate
    /// `backup.test`, expired.
    let expired: Certificate
    /// `other.test`: signed by the authority, for a name that is not `backup.test`.
    let wrongName: Certificate
    /// `backup.test`, self-signed: an authority no client trusts.
    let unknownAuthority: Certificate

    private init() throws {
        let template = NSTemporaryDirectory() + "quail-testca-XXXXXX"
        var bytes = Array(template.utf8CString)
        guard mkdtemp(&bytes) != nil else { throw Errno.current }
        directory = String(decoding: bytes.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        chmod(directory, 0o755)
        atexit {
            if case .success(let authority) = TestCA.shared { try? FileManager.default.removeItem(atPath: authority.directory) }
        }
        try Self.write(directory + "/openssl.cnf", Self.configuration)
        try Self.openssl(["req", "-config", directory + "/openssl.cnf", "-x509", "-extensions", "authority",
                          "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                          "-keyout", directory + "/ca.key", "-out", directory + "/ca.pem",
                          "-subj", "/CN=quail test CA", "-days", "3650", "-set_serial", "1"])
        backup = try Self.issue(["backup.test"], .days(365), in: directory)
        expired = try Self.issue(["backup.test"], .expired, in: directory)
        wrongName = try Self.issue(["other.test"], .days(365), in: directory)
        unknownAuthority = try Self.issue(["backup.test"], .days(365), in: directory, selfSigned: true)
        for file in try FileManager.default.contentsOfDirectory(atPath: directory) { chmod(directory + "/" + file, 0o644) }
    }

    /// A new certificate for `names` (DNS names, or IPv4 addresses), signed by this authority, with a serial number
    /// of its own; `usage` is its extendedKeyUsage (`clientAuth` for a client's certificate).
    func issue(_ names: [String], _ validity: Validity = .days(365), usage: String = "serverAuth") throws -> Certificate {
        let certificate = try Self.issue(names, validity, in: directory, usage: usage)
        for path in [certificate.certificatePath, certificate.keyPath, certificate.combinedPath] { chmod(path, 0o644) }
        return certificate
    }

    private static func issue(_ names: [String], _ validity: Validity, in directory: String, selfSigned: Bool = false,
                              usage: String = "serverAuth") throws -> Certificate {
        let serial = String(UInt64.random(in: 1 << 60...UInt64.max >> 1), radix: 16, uppercase: true)
        let base = directory + "/" + serial
        let extensions = base + ".ext"
        try write(extensions, """
            basicConstraints = critical, CA:FALSE
            keyUsage = critical, digitalSignature, keyEncipherment
            extendedKeyUsage = \(usage)
            subjectKeyIdentifier = hash
            authorityKeyIdentifier = keyid
            subjectAltName = \(names.map { (DNSAddress.octets($0) == nil ? "DNS:" : "IP:") + $0 }.joined(separator: ", "))

            """)
        let key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", base + ".key"]
        let subject = ["-subj", "/CN=\(names[0])"]
        let configuration = ["-config", directory + "/openssl.cnf"]
        if selfSigned {
            try openssl(["req"] + configuration + ["-x509"] + key + subject + ["-out", base + ".pem", "-days", "365",
                        "-set_serial", "0x" + serial, "-extensions", "leaf", "-addext", "subjectAltName = DNS:\(names[0])"])
        } else {
            try openssl(["req"] + configuration + ["-new"] + key + subject + ["-out", base + ".csr"])
            switch validity {
            case .days(let days):
                try openssl(["x509", "-req", "-in", base + ".csr", "-CA", directory + "/ca.pem", "-CAkey", directory + "/ca.key",
                             "-set_serial", "0x" + serial, "-days", String(days), "-extfile", extensions, "-out", base + ".pem"])
            case .expired:
                // `openssl x509` takes no start date in OpenSSL 3.0; `openssl ca` does, with a database (one per
                // certificate, so issuing may run in parallel).
                let database = base + ".db"
                try FileIO.makeDirectories(database)
                try write(database + "/index.txt", "")
                try write(database + "/serial", serial + "\n")
                try write(database + "/ca.cnf", """
                    [ca]
                    default_ca = expired
                    [expired]
                    database = \(database)/index.txt
                    serial = \(database)/serial
                    new_certs_dir = \(database)
                    default_md = sha256
                    policy = any
                    unique_subject = no
                    [any]
                    commonName = supplied

                    """)
                try openssl(["ca", "-config", database + "/ca.cnf", "-batch", "-notext", "-in", base + ".csr",
                             "-cert", directory + "/ca.pem", "-keyfile", directory + "/ca.key",
                             "-startdate", "20200101000000Z", "-enddate", "20200201000000Z", "-extfile", extensions,
                             "-out", base + ".pem"])
            }
        }
        let combined = try String(contentsOfFile: base + ".pem", encoding: .utf8) + String(contentsOfFile: base + ".key", encoding: .utf8)
        try write(base + ".combined.pem", combined)
        return Certificate(names: names, serial: serial, certificatePath: base + ".pem", keyPath: base + ".key",
                           combinedPath: base + ".combined.pem")
    }

    /// The `req` defaults the commands need, and the extensions of the authority and of a self-signed server.
    private static let configuration = """
        [req]
        distinguished_name = dn
        prompt = no
        [dn]
        CN = unused
        [authority]
        basicConstraints = critical, CA:TRUE
        keyUsage = critical, keyCertSign, cRLSign
        subjectKeyIdentifier = hash
        [leaf]
        basicConstraints = critical, CA:FALSE
        keyUsage = critical, digitalSignature, keyEncipherment
        extendedKeyUsage = serverAuth
        subjectKeyIdentifier = hash

        """

    private static func openssl(_ arguments: [String]) throws {
        let outcome = try Programs.run(try SMTPDaemon.tool("openssl"), arguments)
        guard outcome.status == 0 else {
            throw HarnessError("openssl \(arguments.joined(separator: " ")) exited \(outcome.status): \(outcome.stderr)")
        }
    }

    private static func write(_ path: String, _ text: String) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    }
}

extension TestHome {
    /// Makes `certificate` this home's `control/servercert.pem`, replacing the file in one rename (as a renewal
    /// hook would), or removes it when nil.
    func serve(_ certificate: TestCA.Certificate?) throws {
        let path = self.path + "/control/servercert.pem"
        guard let certificate else {
            unlink(path)
            return
        }
        let temporary = path + ".new"
        unlink(temporary)
        try FileManager.default.copyItem(atPath: certificate.combinedPath, toPath: temporary)
        guard rename(temporary, path) == 0 else { throw Errno.current }
    }
}

/// The test authority issues what it says: `openssl verify` accepts `backup` for backup.test and refuses the
/// expired one, the one for another name and the self-signed one, each for its own reason.
@Suite("TestCA")
struct TestCATests {
    @Test func certificatesAreWhatTheirNamesSay() throws {
        let authority = try TestCA.get()
        func verify(_ certificate: TestCA.Certificate) throws -> String {
            let outcome = try Programs.run(try SMTPDaemon.tool("openssl"), [
                "verify", "-CAfile", authority.certificatePath, "-verify_hostname", "backup.test", certificate.certificatePath,
            ])
            return "\(outcome.status) \(outcome.stdout) \(outcome.stderr)"
        }
        #expect(try verify(authority.backup).hasPrefix("0 ") == true)
        #expect(try verify(authority.expired).contains("certificate has expired"))
        #expect(try verify(authority.wrongName).contains("hostname mismatch"))
        #expect(try verify(authority.unknownAuthority).contains("self-signed certificate"))
        let renewed = try authority.issue(["backup.test"])
        #expect(renewed.serial != authority.backup.serial)
        #expect(try verify(renewed).hasPrefix("0 "))
    }
}
