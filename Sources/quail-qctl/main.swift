import QuailCore

Diagnostics.fail("quail-qctl", "not built yet", exitCode: 111)
