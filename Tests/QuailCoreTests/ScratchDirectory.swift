import Foundation
import Glibc

@testable import QuailCore

/// A scratch directory for one test, under this test process's own parent directory, which is removed when the
/// process exits: the tests' directories used to stay in $TMPDIR, thousands of them on a developer's machine.
func makeScratchDirectory(_ name: String = #function) throws -> String {
    var template = Array((scratchParent + "/unit-XXXXXX").utf8CString)
    guard mkdtemp(&template) != nil else { throw Errno.current }
    return String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// Made on first use (a global's initializer runs once, whichever thread asks first).
private let scratchParent: String = {
    var template = Array((NSTemporaryDirectory() + "quail-unit-XXXXXX").utf8CString)
    guard mkdtemp(&template) != nil else { fatalError("cannot make a scratch directory in \(NSTemporaryDirectory())") }
    atexit { try? FileManager.default.removeItem(atPath: scratchParent) }
    return String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}()
