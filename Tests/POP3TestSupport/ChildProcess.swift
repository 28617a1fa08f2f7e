// Starting a long-running helper program (Dovecot, dnsmasq) for a test without Foundation's
// Process: Foundation reaps its children from one monitor thread with a blocking waitpid, and
// a daemon that closes its inherited descriptors at startup (dnsmasq does) looks "exited" to
// it; the monitor then blocks on that daemon and no other Process in the test run is ever
// seen to end.

public import Glibc

/// `posix_spawn` with an empty signal mask and default dispositions (the test process may
/// block or ignore signals the child needs), standard input from /dev/null and standard output
/// and error to `output`. Returns the child's PID; stop it with `stopChild(_:)`.
public func spawnChild(_ path: String, arguments: [String], output: String) throws -> pid_t {
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var mask = sigset_t()
    sigemptyset(&mask)
    posix_spawnattr_setsigmask(&attributes, &mask)
    var defaults = sigset_t()
    sigemptyset(&defaults)
    for signal in [SIGTERM, SIGINT, SIGHUP, SIGCHLD, SIGPIPE, SIGQUIT, SIGUSR1] { sigaddset(&defaults, signal) }
    posix_spawnattr_setsigdefault(&attributes, &defaults)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
    defer { for pointer in argv { free(pointer) } }
    var pid: pid_t = 0
    let result = posix_spawn(&pid, path, &actions, &attributes, argv, environ)
    guard result == 0 else { throw ChildProcessError(description: "could not start \(path): error \(result)") }
    return pid
}

/// Whether the child `pid` is still running (reaping it when it has ended).
public func childIsRunning(_ pid: pid_t) -> Bool {
    var status: Int32 = 0
    return waitpid(pid, &status, WNOHANG) == 0
}

/// Stops the child `pid` with SIGKILL and reaps it.
public func stopChild(_ pid: pid_t) {
    kill(pid, SIGKILL)
    var status: Int32 = 0
    waitpid(pid, &status, 0)
}

/// A helper program that could not be started.
public struct ChildProcessError: Error, CustomStringConvertible {
    public var description: String
}
