/// When a deferred delivery is tried again: the `retryschedule` control file, or qmail's quadratic schedule.
public enum RetrySchedule: Sendable, Equatable {
    /// qmail-send's schedule: the next attempt at `birth + (⌊√(now − birth)⌋ + skip)²`, where skip is
    /// 10 for local and 20 for remote deliveries, so retries spread out as a message ages.
    case quadratic
    /// Fixed delays between attempts, in seconds; the last one repeats.
    case delays([Int])

    /// The time of the next attempt after the `attempts`-th failed one, at `now`, for a message born at `birth`.
    public func nextAttempt(birth: Int, now: Int, attempts: Int, remote: Bool) -> Int {
        switch self {
        case .quadratic:
            let skip = remote ? 20 : 10
            let age = max(0, now - birth)
            let root = Int(Double(age).squareRoot())
            return max(now + 1, birth + (root + skip) * (root + skip))
        case .delays(let delays):
            precondition(!delays.isEmpty, "a delays schedule has at least one delay")
            let index = min(max(attempts, 1), delays.count) - 1
            return now + delays[index]
        }
    }

    /// The longest delay `retryschedule` may give: a century; anything longer is a typo.
    public static let maximumDelay = 36_500 * 86_400

    /// Parses `10m,10m,10m,24h` (commas or one per line); suffixes `s`, `m`, `h`, `d`, bare numbers are seconds.
    public static func parse(_ lines: [ControlLine], file: String = "retryschedule") throws(ControlError) -> RetrySchedule {
        var delays: [Int] = []
        for line in lines {
            for item in line.text.split(separator: ",") {
                let text = String(item).trimmingWhitespace()
                // Bounded, or `now + delay` in nextAttempt overflows (found with the `control` fuzz target's
                // input `9223372036854775807`, which trapped quail-send at its first deferral).
                guard let seconds = parseDuration(text), seconds > 0, seconds <= maximumDelay else {
                    throw .malformed(file: file, line: line.number, reason: "bad delay \"\(text)\" (use e.g. 30s, 10m, 2h, 1d)")
                }
                delays.append(seconds)
            }
        }
        return delays.isEmpty ? .quadratic : .delays(delays)
    }

    /// `90`, `90s`, `10m`, `2h`, `1d` in seconds; `nil` when malformed.
    public static func parseDuration(_ text: String) -> Int? {
        guard let last = text.last else { return nil }
        let multipliers: [Character: Int] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
        if let multiplier = multipliers[last] {
            guard let value = Int(text.dropLast()), value >= 0 else { return nil }
            // `200000000000000000h` must be malformed, not an overflow that traps.
            let (seconds, overflow) = value.multipliedReportingOverflow(by: multiplier)
            return overflow ? nil : seconds
        }
        guard let value = Int(text), value >= 0 else { return nil }
        return value
    }
}
