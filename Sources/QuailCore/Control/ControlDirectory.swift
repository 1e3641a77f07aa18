import Glibc

/// One meaningful line of a control file, with its 1-based line number for error messages.
public struct ControlLine: Sendable, Equatable {
    public var number: Int
    public var text: String
}

/// The `control/` directory: one value or entry per line, edited by hand. qmail: control_readfile.
public struct ControlDirectory: Sendable {
    public let path: String
    /// When set, only these files are read; any other reads as missing, so it takes its default.
    public let only: Set<String>?
    /// When set, the files' bytes as read earlier (`ControlSnapshot`); the disk is not read at all.
    public let contents: [String: [UInt8]]?

    public init(path: String, only: Set<String>? = nil, contents: [String: [UInt8]]? = nil) {
        self.path = path
        self.only = only
        self.contents = contents
    }

    /// The entries of control file `name`, or `nil` when it does not exist.
    ///
    /// Whole-line `#` comments and blank lines are skipped; surrounding white space is trimmed.
    public func lines(_ name: String) throws(ControlError) -> [ControlLine]? {
        if let only, !only.contains(name) { return nil }
        let bytes: [UInt8]?
        if let contents { bytes = contents[name] } else { bytes = try read(name) }
        guard let bytes else { return nil }
        return ControlDirectory.parse(bytes)
    }

    /// The whole of control file `name` as bytes (a PEM file), from the snapshot when there is one; `nil` when
    /// it does not exist.
    public func bytes(_ name: String) throws(ControlError) -> [UInt8]? {
        if let only, !only.contains(name) { return nil }
        if let contents { return contents[name] }
        return try read(name)
    }

    /// The bytes of control file `name` on disk, or `nil` when it does not exist.
    public func read(_ name: String) throws(ControlError) -> [UInt8]? {
        do {
            return try FileIO.readFile(path + "/" + name)
        } catch {
            throw .unreadable(file: name, errno: error)
        }
    }

    /// Splits control-file text into its meaningful lines.
    public static func parse(_ bytes: [UInt8]) -> [ControlLine] {
        var result: [ControlLine] = []
        var number = 0
        for raw in bytes.split(separator: 0x0A, omittingEmptySubsequences: false) {
            number += 1
            let text = String(decoding: raw, as: UTF8.self).trimmingWhitespace()
            if text.isEmpty || text.hasPrefix("#") { continue }
            result.append(ControlLine(number: number, text: text))
        }
        return result
    }

    /// The single value of `name`, or `fallback` when the file is missing or empty.
    public func string(_ name: String, default fallback: String) throws(ControlError) -> String {
        try lines(name)?.first?.text ?? fallback
    }

    /// The largest number a control file may hold (2^40: 34 000 years of seconds, a TiB of bytes). The daemons
    /// add these to the clock (`now + timeoutsmtpd`, `birth + queuelifetime`): unbounded, 2^63 − 1 trapped them.
    public static let maximumNumber = 1 << 40

    /// A non-negative integer from `name`, at most `maximumNumber`, or `fallback` when the file is missing or empty.
    public func number(_ name: String, default fallback: Int) throws(ControlError) -> Int {
        guard let line = try lines(name)?.first else { return fallback }
        guard let value = Int(line.text), value >= 0, value <= ControlDirectory.maximumNumber else {
            throw .malformed(file: name, line: line.number, reason: "expected a non-negative integer, found \"\(line.text)\"")
        }
        return value
    }

    /// A positive integer from `name`, or `fallback`.
    public func positiveNumber(_ name: String, default fallback: Int) throws(ControlError) -> Int {
        let value = try number(name, default: fallback)
        if value == 0, let line = try lines(name)?.first {
            throw .malformed(file: name, line: line.number, reason: "expected a positive integer, found \"\(line.text)\"")
        }
        return value
    }
}

extension String {
    /// The string without leading and trailing spaces, tabs and carriage returns.
    public func trimmingWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" }
        guard let first = firstIndex(where: { !isSpace($0) }) else { return "" }
        let last = lastIndex(where: { !isSpace($0) })!
        return String(self[first...last])
    }
}
