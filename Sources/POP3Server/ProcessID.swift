// POP3Server: the process id, for the APOP timestamp (RFC 1939 §7 "<process-ID.clock@hostname>").
#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

enum ProcessID {
    static var current: Int32 { getpid() }
}
