import Glibc
import QuailCore

let arguments = Array(CommandLine.arguments.dropFirst())
CommandHelp.answer(arguments, usage: SMTPServer.usage)
let home = QuailHome()
if arguments.first == "--listen" {
    guard arguments.count == 2, let address = SocketAddress(parsing: arguments[1]) else {
        Diagnostics.fail("quail-smtpd", "--listen needs ADDR:PORT\n" + SMTPServer.usage, exitCode: 100)
    }
    // Root is needed only to bind a port below 1024; the sessions are forked from the listener after the drop.
    exit(SMTPListener(address: address, home: home).run { Privileges.dropForDaemonOrExit("quail-smtpd", home: home) })
}
// Under tcpserver or inetd: one session, dropped before it reads a byte from the client.
Privileges.dropForDaemonOrExit("quail-smtpd", home: home, quiet: true)
exit(SMTPServer(home: home, context: .fromEnvironment()).run())
