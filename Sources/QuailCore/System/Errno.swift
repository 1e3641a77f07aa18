import Glibc

/// A failed system call's `errno`, in swift-system's shape (that module is not in the Linux toolchain).
public struct Errno: Error, RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// The calling thread's `errno`, read right after a failed call.
    public static var current: Errno { Errno(rawValue: errno) }

    public static let interrupted = Errno(rawValue: EINTR)
    public static let noSuchFileOrDirectory = Errno(rawValue: ENOENT)
    public static let fileExists = Errno(rawValue: EEXIST)
    public static let wouldBlock = Errno(rawValue: EAGAIN)
    public static let noDeviceOrAddress = Errno(rawValue: ENXIO)
    public static let permissionDenied = Errno(rawValue: EACCES)
    public static let noSpace = Errno(rawValue: ENOSPC)
    public static let quotaExceeded = Errno(rawValue: EDQUOT)

    public var description: String { String(cString: strerror(rawValue)) }
}

/// Calls `body` again while it fails with `EINTR`; any other failure is thrown.
@discardableResult
public func retryingInterrupts<T: FixedWidthInteger>(_ body: () -> T) throws(Errno) -> T {
    while true {
        let result = body()
        if result != -1 { return result }
        let error = Errno.current
        guard error == .interrupted else { throw error }
    }
}
