import Glibc
import QuailCore

// quail-mxcheck [--json] DOMAIN [BACKUP-HOST[:PORT]]: exit 0 nothing failed, 1 something did,
// 100 bad usage, 111 could not check (DNS unreachable).
let arguments = Array(CommandLine.arguments.dropFirst())
CommandHelp.answer(arguments, usage: MXCheckOptions.usage)
exit(MXCheckCommand.run(arguments: arguments, home: QuailHome()))
