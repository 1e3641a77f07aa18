import Foundation
import Glibc

@testable import QuailCore

/// A scratch directory for one test, under this test process's own parent directory, which is removed when the
/// process exits: the tests' directories used to stay in $TMPDIR, thousands of them on a developer's machine.
func makeScratchDirectory() throws -> String {
    try makeDirectory(from: scratchParent.path + "/unit-XXXXXX")
}

/// Made on first use (a global's initializer runs once, whichever thread asks first). Only the process that made
/// it removes it: a forked child leaving through exit() must not take the tree from under the other tests.
private let scratchParent: (path: String, owner: pid_t) = {
    guard let path = try? makeDirectory(from: NSTemporaryDirectory() + "quail-unit-XXXXXX") else {
        fatalError("cannot make a scratch directory in \(NSTemporaryDirectory())")
    }
    atexit {
        if getpid() == scratchParent.owner { try? FileManager.default.removeItem(atPath: scratchParent.path) }
    }
    return (path, getpid())
}()

/// mkdtemp: a new directory named by `template`, whose trailing XXXXXX it fills in.
private func makeDirectory(from template: String) throws -> String {
    var bytes = Array(template.utf8CString)
    guard mkdtemp(&bytes) != nil else { throw Errno.current }
    return String(decoding: bytes.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
