// Fuzz target `control`: one control file's content, as an admin might have typed it, through every parser
// of a control file: the line splitter, domain lists (rcpthosts, locals), smtproutes, retryschedule, the
// numbers (databytes, timeouts), validrcptto, aliases, badmailfrom, and addresses. A bad file may only be
// a ControlError naming the file and line, never a crash.
import Glibc
@testable import QuailCore

/// A directory of its own for the number and string readers, which read from a file.
let directory: String = {
    var template = Array("/tmp/quail-fuzz-control-XXXXXX".utf8CString)
    guard mkdtemp(&template) != nil else { fatalError("mkdtemp: \(errno)") }
    return String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzControl(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let lines = ControlDirectory.parse(bytes)
    for line in lines {
        precondition(line.number >= 1 && !line.text.isEmpty && !line.text.hasPrefix("#"), "line \(line)")
    }
    domains(lines)
    routes(lines)
    schedule(lines)
    _ = try? Configuration.parseValidRecipients(lines)
    _ = try? Configuration.parseAliases(lines)
    addresses(lines)
    numbers(bytes)
    return 0
}

func domains(_ lines: [ControlLine]) {
    let list = DomainList(lines.map(\.text))
    for line in lines {
        precondition(list.contains(line.text) || line.text.hasPrefix(".") || Address.normalizedDomain(line.text).hasPrefix("."),
                     "a listed domain is not contained: \(line.text)")
        _ = list.contains("a." + line.text)
    }
}

func routes(_ lines: [ControlLine]) {
    var routes = SMTPRoutes()
    for line in lines {
        do { try routes.add(line) } catch { continue }
        let domain = String(line.text.prefix { $0 != ":" })
        for backedUp in [false, true] {
            if case .relay(let host, let port) = routes.route(for: domain, backedUp: backedUp) {
                precondition(!host.isEmpty && (1...65535).contains(port), "relay \(host):\(port)")
            }
        }
    }
}

func schedule(_ lines: [ControlLine]) {
    guard let schedule = try? RetrySchedule.parse(lines) else { return }
    let now = 1_700_000_000
    var count = 1
    if case .delays(let delays) = schedule {
        precondition(!delays.isEmpty && delays.allSatisfy { $0 > 0 }, "delays \(delays)")
        count = delays.count + 1
    }
    for attempts in 0...count {
        for remote in [false, true] {
            let next = schedule.nextAttempt(birth: now - 86_400, now: now, attempts: attempts, remote: remote)
            precondition(next > now, "next attempt \(next) not after now")
        }
    }
}

func addresses(_ lines: [ControlLine]) {
    let policy = RecipientPolicy(config: configurationWithBadMailFrom(lines), relayClient: false)
    for line in lines {
        if let address = Address(line.text) { _ = config(validating: address) }
        _ = Address.domain(of: line.text)
        _ = policy.isBadSender(line.text)
        if let path = MailPath(line.text) { _ = policy.refusal(for: path) }
    }
}

/// Whether validrcptto would take the address (exercises the lookup with odd local parts).
func config(validating address: Address) -> Bool { defaults.isValidRecipient(address) }

/// The defaults, with `badmailfrom` (and rcpthosts) taken from the lines.
func configurationWithBadMailFrom(_ lines: [ControlLine]) -> Configuration {
    var config = defaults
    config.badMailFrom = Set(lines.map { $0.text.lowercased() })
    config.rcpthosts = DomainList(lines.map(\.text))
    return config
}

let defaults: Configuration = {
    do { return try Configuration(home: QuailHome(path: "/nonexistent/quail-fuzz")) } catch { fatalError("defaults: \(error)") }
}()

/// The single-value readers, which take the file from disk.
func numbers(_ bytes: [UInt8]) {
    let path = directory + "/value"
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    precondition(fd >= 0, "open \(path): \(errno)")
    _ = try? FileIO.writeAll(fd, bytes)
    close(fd)
    let control = ControlDirectory(path: directory)
    // The daemons add these to the clock: whatever parses must leave room for that.
    if let value = try? control.number("value", default: 7) {
        precondition(value >= 0 && !value.addingReportingOverflow(MailDate.now()).overflow, "number \(value)")
    }
    if let value = try? control.positiveNumber("value", default: 7) { precondition(value > 0, "positive number \(value)") }
    _ = try? control.string("value", default: "x")
}
