import Glibc

/// Who the programs run as. qmail: the qmaild/qmailq/qmails users, setuidgid, and qmail-queue's setuid bit.
///
/// Three rules, all decided here so that every program applies them the same way:
/// - **Daemons** (quail-send, quail-smtpd) started as root drop to the `quail` user, or to `$QUAIL_USER`
///   (DESIGN.md, "Start-up"). When that user is not in `/etc/passwd`, or the home's `queue/` belongs to someone
///   else, they refuse to start: running on as root by accident would write root's files into the spool and the
///   Maildirs. `QUAIL_USER=root` keeps root on purpose (tests, containers).
/// - **quail-qctl** started as root works as the daemons' user when that user owns the queue, so the files it
///   writes stay quail-send's; otherwise it stays root, which may edit any spool.
/// - **quail-queue**, installed setuid `quail` so that anybody's quail-inject can write the 0700 queue, works
///   with its borrowed identity only in the install's home; asked for any other `$QUAIL_HOME`, it gives that
///   identity up for good and works as its caller, who then needs write access there of their own.
public enum Privileges {
    /// The unprivileged user of DESIGN.md's "daemons drop to that user".
    public static let userName = "quail"

    /// A password-database entry.
    public struct Account: Sendable, Equatable {
        public var name: String
        public var uid: uid_t
        public var gid: gid_t
        public var home: String
    }

    /// `name`'s entry in `/etc/passwd`, or nil when there is none. qmail: auto_uids.
    ///
    /// Read from the file, not with `getpwnam`: the programs are static executables (scripts/build), and glibc's
    /// NSS `dlopen`s the modules `nsswitch.conf` names (`passwd: files systemd` on Debian 12), which crashes a
    /// static process (SIGSEGV in libnss_systemd) whenever the name is not in the file. The `quail` user is a local
    /// system user (`useradd --system`), so the file is where it is.
    public static func account(_ name: String) -> Account? {
        guard let fields = databaseEntries("/etc/passwd").first(where: { $0.count >= 7 && $0[0] == name }),
              let uid = uid_t(fields[2]), let gid = gid_t(fields[3])
        else { return nil }
        return Account(name: name, uid: uid, gid: gid, home: fields[5])
    }

    /// What `initgroups` would set, from `/etc/group` (not through NSS, as `account`): the account's own group,
    /// then every group that lists it as a member.
    static func groups(of account: Account) -> [gid_t] {
        let member = databaseEntries("/etc/group").filter { $0.count >= 4 && $0[3].split(separator: ",").contains { $0 == account.name } }
        return [account.gid] + member.compactMap { gid_t($0[2]) }.filter { $0 != account.gid }
    }

    /// The lines of a colon-separated database file (`/etc/passwd`, `/etc/group`), split into fields.
    private static func databaseEntries(_ path: String) -> [[String]] {
        let bytes = (try? FileIO.readFile(path)) ?? []
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n").map {
            $0.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        }
    }

    /// The account daemons started as root run as: `$QUAIL_USER`, else `quail`.
    public static var daemonUserName: String { Environment.nonEmpty("QUAIL_USER") ?? userName }

    /// What `dropForDaemon` decided.
    public enum Decision: Sendable, Equatable {
        /// Not started as root: nothing to drop.
        case notRoot
        /// Root, kept on purpose: `$QUAIL_USER` names an account of uid 0.
        case keptRoot(Account)
        /// Now running as this account.
        case dropped(Account)
    }

    /// DESIGN.md, "Start-up": started as root, become `daemonUserName`, or refuse (see the type's comment).
    /// A home without a queue yet is fine: quail-send then creates it as that user.
    public static func dropForDaemon(home: QuailHome) throws(PrivilegeError) -> Decision {
        guard geteuid() == 0 else { return .notRoot }
        let name = daemonUserName
        guard let target = account(name) else { throw .unknownUser(name) }
        var info = stat()
        if stat(home.queue.root, &info) == 0 && info.st_uid != target.uid {
            throw .queueOwner(queue: home.queue.root, owner: info.st_uid, user: target)
        }
        guard target.uid != 0 else { return .keptRoot(target) }
        try drop(to: target)
        return .dropped(target)
    }

    /// `dropForDaemon` for a program's `main`: logs what happened unless `quiet`; a refusal or a failed drop is
    /// fatal (exit 111), logged even when `quiet`.
    public static func dropForDaemonOrExit(_ program: String, home: QuailHome, quiet: Bool = false) {
        let decision: Decision
        do { decision = try dropForDaemon(home: home) } catch {
            Diagnostics.fail(program, "fatal: \(error)", exitCode: 111)
        }
        guard !quiet else { return }
        switch decision {
        case .notRoot:
            break
        case .keptRoot(let account):
            Diagnostics.log("\(program): running as root: QUAIL_USER=\(account.name)")
        case .dropped(let account):
            Diagnostics.log("\(program): running as \(account.name) (uid \(account.uid) gid \(account.gid))")
        }
    }

    /// quail-qctl's rule (see the type's comment); exits 111 when a drop failed.
    public static func dropForQueueToolOrExit(_ program: String, home: QuailHome) {
        guard geteuid() == 0, let target = account(daemonUserName), target.uid != 0 else { return }
        var info = stat()
        guard stat(home.queue.root, &info) == 0, info.st_uid == target.uid else { return }
        do { try drop(to: target) } catch {
            Diagnostics.fail(program, "fatal: \(error)", exitCode: 111)
        }
    }

    /// Becomes `account` for good: its groups, its gid, its uid, in that order (after setuid there is no way back
    /// to set the others), then checks that root cannot be regained.
    public static func drop(to account: Account) throws(PrivilegeError) {
        let groups = Privileges.groups(of: account)
        guard setgroups(groups.count, groups) == 0 else { throw .call("setgroups(\(account.name))", .current) }
        guard setgid(account.gid) == 0 else { throw .call("setgid(\(account.gid))", .current) }
        guard setuid(account.uid) == 0 else { throw .call("setuid(\(account.uid))", .current) }
        let stuck = getuid() != account.uid || geteuid() != account.uid || getgid() != account.gid || getegid() != account.gid
        if stuck || (account.uid != 0 && setuid(0) == 0) {
            throw .incomplete("still able to act as another user after dropping to \(account.name)")
        }
    }

    // MARK: - quail-queue

    /// Where the install records its home for the setuid quail-queue: `PREFIX/etc/quail/home` for a program in
    /// `PREFIX/bin`. Without that file the install's home is `/var/quail`.
    public static func installedHomeFile(executable: String) -> String {
        FileIO.directoryName(of: FileIO.directoryName(of: executable)) + "/etc/quail/home"
    }

    /// The home quail-queue works in, after settling who it runs as (see the type's comment).
    ///
    /// Not setuid (real and effective ids agree): `$QUAIL_HOME` as every program reads it. Setuid: the install's
    /// home when `$QUAIL_HOME` is unset or names that same directory; otherwise the borrowed ids are given up
    /// (real, effective and saved) and `$QUAIL_HOME` is used with the caller's own rights.
    public static func queueProgramHome() throws(PrivilegeError) -> QuailHome {
        let realUID = getuid(), realGID = getgid()
        guard realUID != geteuid() || realGID != getegid() else { return QuailHome() }
        let installed = try installedHome()
        if let requested = Environment.nonEmpty("QUAIL_HOME"), resolved(requested) != resolved(installed) {
            let borrowed = geteuid()
            // Setting the real id as well makes the saved id follow (POSIX setreuid), so there is no way back.
            guard setregid(realGID, realGID) == 0 else { throw .call("setregid(\(realGID))", .current) }
            guard setreuid(realUID, realUID) == 0 else { throw .call("setreuid(\(realUID))", .current) }
            if geteuid() != realUID || getegid() != realGID || (borrowed != realUID && seteuid(borrowed) == 0) {
                throw .incomplete("still able to act as uid \(borrowed) after giving it up")
            }
            return QuailHome(path: requested)
        }
        // The install's own path, never the caller's spelling of it: a symlink the caller controls could be
        // pointed elsewhere between this check and the writes.
        return QuailHome(path: installed)
    }

    /// The home recorded beside the running executable, trusted only when root owns the file and its directory
    /// and nobody else can write either; otherwise a hard link of the program into a directory of one's own
    /// could name any home.
    static func installedHome() throws(PrivilegeError) -> String {
        guard let executable = ChildProcess.executablePath() else { throw .call("readlink(/proc/self/exe)", .current) }
        let file = installedHomeFile(executable: executable)
        for path in [FileIO.directoryName(of: file), file] {
            var info = stat()
            if lstat(path, &info) != 0 {
                if errno == ENOENT { return "/var/quail" }
                throw .call("stat(\(path))", .current)
            }
            guard info.st_uid == 0, info.st_mode & 0o022 == 0 else {
                throw .untrusted("\(path) must belong to root and be writable by nobody else")
            }
        }
        let text: [UInt8]
        do { text = try FileIO.readFile(file) ?? [] } catch { throw .call("read(\(file))", error) }
        let line = String(decoding: text, as: UTF8.self).split(separator: "\n").first.map(String.init) ?? ""
        let home = line.trimmingWhiteSpace()
        guard home.hasPrefix("/") else { throw .untrusted("\(file) does not hold an absolute path") }
        return home
    }

    private static func resolved(_ path: String) -> String? {
        guard let pointer = realpath(path, nil) else { return nil }
        defer { free(pointer) }
        return String(cString: pointer)
    }
}

/// Why the process could not become who it should be; always fatal (exit 111, or quail-queue's 61).
public enum PrivilegeError: Error, Sendable, CustomStringConvertible {
    case call(String, Errno)
    case incomplete(String)
    case untrusted(String)
    /// Started as root, and the daemons' user is not in `/etc/passwd`.
    case unknownUser(String)
    /// Started as root, and the queue belongs to someone other than the daemons' user.
    case queueOwner(queue: String, owner: uid_t, user: Privileges.Account)

    public var description: String {
        switch self {
        case .call(let what, let errno): "\(what) failed: \(errno)"
        case .incomplete(let what): what
        case .untrusted(let what): "untrusted install record: \(what)"
        case .unknownUser(let name):
            // The file, never NSS: see `Privileges.account`. A user only LDAP or sssd knows is not found, so say so.
            "started as root, and there is no user \(name) in /etc/passwd to run as (quail reads /etc/passwd itself, "
                + "not NSS: a user known only to LDAP or the like does not count). Add \(name) to /etc/passwd "
                + "(scripts/install creates quail), or set QUAIL_USER to a user listed there; QUAIL_USER=root keeps root"
        case .queueOwner(let queue, let owner, let user):
            "started as root to run as \(user.name) (uid \(user.uid)), but \(queue) belongs to uid \(owner): "
                + "give it to \(user.name) (chown -R; scripts/install does), or set QUAIL_USER to its owner"
        }
    }
}

extension String {
    fileprivate func trimmingWhiteSpace() -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { $0 != " " && $0 != "\t" && $0 != "\r" }),
              let last = scalars.lastIndex(where: { $0 != " " && $0 != "\t" && $0 != "\r" })
        else { return "" }
        return String(scalars[first...last])
    }
}
