// POP3Server: the default connection limit, from the process's file-descriptor limit.
#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// How many connections the process's file descriptors allow, so that a connection past the
/// limit gets a clean `-ERR [SYS/TEMP]` instead of failing for want of a descriptor.
public enum ConnectionLimit {
    /// Descriptors kept back for the listeners, the event loops and thread pools, the
    /// passwd-file and the message files being read.
    public static let reservedFileDescriptors = 128

    /// The descriptors that connections' sockets and maildrops' lock files share
    /// (`DescriptorBudget`): all but ``reservedFileDescriptors``.
    public static func budget(fileDescriptors: Int) -> Int {
        max(2, fileDescriptors - Self.reservedFileDescriptors)
    }

    /// The soft `RLIMIT_NOFILE` now, or nil when it cannot be read; "unlimited" counts as
    /// 1,048,576 (Linux's default `nr_open`).
    public static var fileDescriptorLimit: Int? {
        guard let limits = Self.readLimits() else { return nil }
        return Self.count(limits.soft)
    }

    /// The limit a server uses when none is configured: seven eighths of the
    /// ``budget(fileDescriptors:)``, at least 1; 1,024 when the descriptor limit cannot be read.
    ///
    /// A logged-in session holds its socket and, while it is active, its maildrop's lock file;
    /// connections may take seven eighths of the budget, and lock files what connections leave.
    /// When that is spent, the locks of the sessions silent longest are released early (their
    /// leases go on as after `takeover_after`), so every session can be logged in at once while
    /// only the active ones hold two descriptors.
    public static var `default`: Int {
        Self.fileDescriptorLimit.map(Self.connections(fileDescriptors:)) ?? 1024
    }

    /// The connections `fileDescriptors` descriptors allow (see ``default``).
    public static func connections(fileDescriptors: Int) -> Int {
        let budget = Self.budget(fileDescriptors: fileDescriptors)
        return max(1, budget - budget / 8)
    }

    /// The connections a server serves at once: `configured` (``default`` when nil), but never
    /// more than the descriptor limit allows. A process out of descriptors fails where it cannot
    /// recover: on Linux, Swift's thread pool monitor (libdispatch) stops the whole process with
    /// SIGILL when it cannot open a `/proc` file, taking every session down without UPDATE.
    public static func capped(_ configured: Int?) -> Int {
        guard let descriptors = Self.fileDescriptorLimit else { return configured ?? 1024 }
        return Self.capped(configured, fileDescriptors: descriptors)
    }

    /// ``capped(_:)`` for a process with `fileDescriptors` descriptors.
    public static func capped(_ configured: Int?, fileDescriptors: Int) -> Int {
        let allowed = Self.connections(fileDescriptors: fileDescriptors)
        return min(configured ?? allowed, allowed)
    }

    /// Raises the soft `RLIMIT_NOFILE` to the hard limit, as servers do at start (the soft
    /// default of 1,024 dates from `select(2)`, which NIO does not use). Returns the soft
    /// limit in force afterwards.
    @discardableResult
    public static func raiseFileDescriptorLimit() -> Int? {
        guard var limits = Self.readLimits() else { return nil }
        if limits.soft != limits.hard {
            var raised = rlimit(rlim_cur: limits.hard, rlim_max: limits.hard)
            #if os(Linux)
                let result = setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &raised)
            #else
                let result = setrlimit(RLIMIT_NOFILE, &raised)
            #endif
            if result == 0 { limits.soft = limits.hard }
        }
        return Self.count(limits.soft)
    }

    private static func readLimits() -> (soft: rlim_t, hard: rlim_t)? {
        var limits = rlimit()
        #if os(Linux)
            let result = getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limits)
        #else
            let result = getrlimit(RLIMIT_NOFILE, &limits)
        #endif
        guard result == 0 else { return nil }
        return (limits.rlim_cur, limits.rlim_max)
    }

    /// "Unlimited" (`RLIM_INFINITY`, all ones) and anything past 2^20 count as 2^20.
    private static func count(_ value: rlim_t) -> Int {
        value > 1 << 20 ? 1 << 20 : Int(value)
    }
}
