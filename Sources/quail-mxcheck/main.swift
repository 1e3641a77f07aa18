import Glibc
import QuailCore

// quail-mxcheck [--json] DOMAIN [BACKUP-HOST[:PORT]]: exit 0 nothing failed, 1 something did,
// 100 bad usage, 111 could not check (DNS unreachable).
exit(MXCheckCommand.run(arguments: Array(CommandLine.arguments.dropFirst()), home: QuailHome()))
