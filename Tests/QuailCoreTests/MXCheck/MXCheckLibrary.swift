import Testing

/// The suites of quail-mxcheck's library checks, nested here so that `swift test --filter MXCheck` runs them
/// with the integration tests.
@Suite enum MXCheckLibrary {}
