import Glibc

/// Dates as RFC 5322 writes them (`Sat, 21 Nov 2026 11:35:16 +0000`), always in UTC.
public enum MailDate {
    private static let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// The current time in seconds since the epoch.
    public static func now() -> Int { Int(time(nil)) }

    /// Formats `seconds` since the epoch.
    public static func format(_ seconds: Int) -> String {
        var clock = time_t(seconds)
        var parts = tm()
        gmtime_r(&clock, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(days[Int(parts.tm_wday)]), \(parts.tm_mday) \(months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) +0000"
    }

    /// qmail-qread's date: `21 Nov 2026 11:35:16 GMT`.
    public static func formatQread(_ seconds: Int) -> String {
        let full = format(seconds)  // "Sat, 21 Nov 2026 11:35:16 +0000"
        return String(full.dropFirst(5).dropLast(6)) + " GMT"
    }
}
