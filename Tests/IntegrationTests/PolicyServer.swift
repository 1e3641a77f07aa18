import Foundation
import Glibc
import QuailCore

/// An MTA-STS policy host (RFC 8461 §3.3): Python's `http.server` wrapped in `ssl`, on `address`:443 by default,
/// with a certificate from the test authority for `mta-sts.DOMAIN`. It serves the current policy at
/// `/.well-known/mta-sts.txt` as `text/plain` and 404 everywhere else (and while no policy is published).
///
/// Give dnsmasq `--host-record=mta-sts.DOMAIN,ADDRESS` and `--txt-record=_mta-sts.DOMAIN,v=STSv1; id=ID`, and the
/// client `control/tlsca.pem` from `TestCA.certificatePath`.
final class PolicyServer {
    let server: SpawnedServer
    let directory: String
    let certificate: TestCA.Certificate

    /// Starts serving `policy` (nil: nothing yet) for `domain` on `address`:`port`.
    init(domain: String, address: String, port: UInt16 = 443, policy: String?) throws {
        directory = NSTemporaryDirectory() + "quail-policy-\(address)-\(port)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        certificate = try TestCA.get().issue(["mta-sts." + domain])
        try Self.publish(policy, in: directory)
        server = try SpawnedServer(
            "/usr/bin/env",
            [
                "python3", "-c", Self.script, address, String(port), certificate.certificatePath, certificate.keyPath,
                directory,
            ],
            address: "\(address):\(port)", readyLine: "ready")
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    /// Replaces the policy served from the next request on (in one rename), or withdraws it (404) when nil.
    func publish(_ policy: String?) throws { try Self.publish(policy, in: directory) }

    private static func publish(_ policy: String?, in directory: String) throws {
        let path = directory + "/policy"
        guard let policy else {
            unlink(path)
            return
        }
        try Data(policy.utf8).write(to: URL(fileURLWithPath: path + ".new"))
        guard rename(path + ".new", path) == 0 else { throw Errno.current }
    }

    /// `version: STSv1`, `mode`, one `mx:` line per pattern and `max_age`, CRLF-ended as RFC 8461 §3.2 shows.
    static func policy(mode: String, mx: [String], maxAge: Int = 604_800) -> String {
        (["version: STSv1", "mode: \(mode)"] + mx.map { "mx: \($0)" } + ["max_age: \(maxAge)"]).map { $0 + "\r\n" }
            .joined()
    }

    /// The paths requested so far, one per request, in order.
    func requests() -> [String] {
        let text = (try? String(contentsOfFile: directory + "/requests", encoding: .utf8)) ?? ""
        return text.split(separator: "\n").map(String.init)
    }

    static let script = #"""
        import os
        # posix_spawn hands on every descriptor not marked close-on-exec: a Foundation pipe the runner opened at
        # the same moment would never see its end while this server held it.
        os.closerange(3, os.sysconf("SC_OPEN_MAX"))
        import http.server, ssl, sys
        address, port, certificate, key, directory = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                with open(os.path.join(directory, "requests"), "a") as f:
                    f.write(self.path + "\n")
                try:
                    with open(os.path.join(directory, "policy"), "rb") as f:
                        body = f.read()
                except FileNotFoundError:
                    body = None
                if self.path != "/.well-known/mta-sts.txt" or body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            def finish(self):
                super().finish()
                try:
                    self.request.unwrap()  # close_notify, as web servers send it: OpenSSL 3 takes a bare close for an error
                except OSError:
                    pass
            def log_message(self, *arguments):
                pass

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True
            def handle_error(self, request, client_address):
                pass  # a client that gives up on the handshake is no reason to stop

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certificate, key)
        httpd = Server((address, port), Handler)
        httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
        print("ready", flush=True)
        httpd.serve_forever()
        """#
}
