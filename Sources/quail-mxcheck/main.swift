import QuailCore

Diagnostics.fail("quail-mxcheck", "not built yet", exitCode: 111)
