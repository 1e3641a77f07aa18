import Glibc

/// Reading the process environment without Foundation.
public enum Environment {
    /// The value of `name`, or `nil` when unset.
    public static func value(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }

    /// The value of `name`, or `nil` when unset or empty.
    public static func nonEmpty(_ name: String) -> String? {
        guard let value = value(name), !value.isEmpty else { return nil }
        return value
    }

    /// `$QUAIL_HOME`, else `/var/quail`.
    public static var home: String { nonEmpty("QUAIL_HOME") ?? "/var/quail" }

    /// The system host name, as `me` defaults to.
    public static var hostName: String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
