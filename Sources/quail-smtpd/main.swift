import Glibc
import QuailCore

let arguments = Array(CommandLine.arguments.dropFirst())
if arguments.first == "--listen" {
    guard arguments.count == 2, let address = SocketAddress(parsing: arguments[1]) else {
        Diagnostics.fail("quail-smtpd", "usage: quail-smtpd [--listen ADDR:PORT]", exitCode: 100)
    }
    exit(SMTPListener(address: address, home: QuailHome()).run())
}
exit(SMTPServer(home: QuailHome(), context: .fromEnvironment()).run())
