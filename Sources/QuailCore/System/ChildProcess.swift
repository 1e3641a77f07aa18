import Glibc

/// Starting and reaping child programs with `posix_spawn`, the way quail-send runs deliveries.
public enum ChildProcess {
    /// Starts `path` with `arguments` (argv[1...]) and its descriptors 0, 1 and 2 set to `stdin`, `stdout`, `stderr`,
    /// and 3 to `descriptor3` when given.
    ///
    /// The child starts with default signal handling and an empty signal mask, whatever the parent blocked.
    /// The caller keeps ownership of the descriptors it passes and closes its own copies.
    public static func spawn(
        _ path: String, arguments: [String], environment: [String]? = nil,
        stdin: Int32 = STDIN_FILENO, stdout: Int32 = STDOUT_FILENO, stderr: Int32 = STDERR_FILENO,
        descriptor3: Int32? = nil
    ) throws(Errno) -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        // dup2 clears close-on-exec on the target, so descriptors opened with O_CLOEXEC still reach the child.
        for (source, target) in [(stdin, Int32(0)), (stdout, Int32(1)), (stderr, Int32(2))] where source != target {
            posix_spawn_file_actions_adddup2(&actions, source, target)
        }
        // Glibc clears close-on-exec when source and target are the same descriptor.
        if let descriptor3 { posix_spawn_file_actions_adddup2(&actions, descriptor3, 3) }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        let envStrings = environment ?? currentEnvironment()
        let envp = envStrings.map { strdup($0) } + [nil]
        defer { for pointer in envp { free(pointer) } }

        var pid = pid_t()
        let result = posix_spawn(&pid, path, &actions, &attributes, argv, envp)
        if result != 0 { throw Errno(rawValue: result) }
        return pid
    }

    /// Closes every descriptor from `lowest` up but those in `kept`: one by one below the highest kept, then the
    /// rest with one `closefrom`, with no listing of /proc/self/fd.
    static func closeDescriptors(from lowest: Int32, except kept: [Int32] = []) {
        let highestKept = kept.filter { $0 >= lowest }.max() ?? lowest - 1
        for fd in lowest..<max(lowest, highestKept) where !kept.contains(fd) { close(fd) }
        closefrom(highestKept + 1)
    }

    /// Waits for `pid` and returns its exit status, or 128 + the signal that killed it.
    public static func wait(_ pid: pid_t) throws(Errno) -> Int32 {
        var status: Int32 = 0
        try retryingInterrupts { waitpid(pid, &status, 0) }
        return exitCode(fromWaitStatus: status)
    }

    /// Decodes a `waitpid` status: the exit code, or 128 + signal number as shells report it.
    public static func exitCode(fromWaitStatus status: Int32) -> Int32 {
        let signal = status & 0x7f
        if signal == 0 { return (status >> 8) & 0xff }
        return 128 + signal
    }

    /// The process environment as `NAME=value` strings.
    public static func currentEnvironment() -> [String] {
        var result: [String] = []
        var pointer = environ
        while let entry = pointer.pointee {
            result.append(String(cString: entry))
            pointer += 1
        }
        return result
    }

    /// The running executable's path, from /proc/self/exe.
    public static func executablePath() -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard length > 0 else { return nil }
        return String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Finds a sibling program: beside the running executable first, then on `PATH`.
    public static func locate(_ program: String) -> String {
        if let selfPath = executablePath() {
            let candidate = FileIO.directoryName(of: selfPath) + "/" + program
            if access(candidate, X_OK) == 0 { return candidate }
        }
        let path = getenv("PATH").map { String(cString: $0) } ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(program)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return program
    }
}
