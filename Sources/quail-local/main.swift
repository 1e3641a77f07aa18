import QuailCore
Diagnostics.fail(CommandLine.arguments[0], "not built yet", exitCode: 111)
