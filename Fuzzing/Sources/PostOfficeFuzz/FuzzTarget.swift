// The libFuzzer entry points and the list of targets. `POSTOFFICE_FUZZ_TARGET` names the target
// one run exercises; `scripts/fuzz` sets it.

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One fuzz target: a name (also the name of its seed corpus directory, `Fuzzing/Corpus/<name>`)
/// and a function that must return for every input without trapping.
struct FuzzTarget {
    var name: String
    var run: ([UInt8]) -> Void

    /// Every target, in the order `scripts/fuzz --list` prints them.
    static let all: [FuzzTarget] = [
        FuzzTarget(name: "pop3-command", run: POP3Targets.command),
        FuzzTarget(name: "pop3-line-framer", run: POP3Targets.lineFramer),
        FuzzTarget(name: "pop3-response", run: POP3Targets.response),
        FuzzTarget(name: "dot-unstuffing", run: POP3Targets.dotUnstuffing),
        FuzzTarget(name: "dot-stuffing-roundtrip", run: POP3Targets.dotStuffingRoundTrip),
        FuzzTarget(name: "sasl-server", run: SASLTargets.server),
        FuzzTarget(name: "sasl-client", run: SASLTargets.client),
        FuzzTarget(name: "passwd-file", run: FileTargets.passwdFile),
        FuzzTarget(name: "maildir-filename", run: FileTargets.maildirFilename),
        FuzzTarget(name: "toml", run: FileTargets.toml),
        FuzzTarget(name: "mime", run: FileTargets.mime),
        FuzzTarget(name: "state-import", run: FileTargets.stateImport),
        FuzzTarget(name: "lmtp-command", run: LMTPTargets.command),
    ]
}

private var selected: FuzzTarget?

private func fail(_ message: String) -> Never {
    fputs(message + "\n", stderr)
    exit(2)
}

@_cdecl("LLVMFuzzerInitialize")
public func fuzzerInitialize(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>
) -> Int32 {
    let names = FuzzTarget.all.map(\.name)
    guard let raw = getenv("POSTOFFICE_FUZZ_TARGET") else {
        if getenv("POSTOFFICE_FUZZ_LIST") != nil {
            print(names.joined(separator: "\n"))
            exit(0)
        }
        fail("set POSTOFFICE_FUZZ_TARGET to one of: \(names.joined(separator: " "))")
    }
    let name = String(cString: raw)
    guard let target = FuzzTarget.all.first(where: { $0.name == name }) else {
        fail("unknown fuzz target \(name); the targets are: \(names.joined(separator: " "))")
    }
    selected = target
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    selected?.run(bytes)
    return 0
}

/// Stops the run with a message when an invariant does not hold: libFuzzer then saves the input.
func check(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
    if !condition() {
        fputs("invariant failed: \(message())\n", stderr)
        abort()
    }
}

/// Reads a fuzz input as a few control bytes followed by data.
struct FuzzInput {
    private var bytes: ArraySlice<UInt8>

    init(_ bytes: [UInt8]) { self.bytes = bytes[...] }

    /// The next byte, or 0 when the input is used up.
    mutating func byte() -> UInt8 { self.bytes.popFirst() ?? 0 }

    /// Everything not read yet.
    mutating func rest() -> [UInt8] {
        defer { self.bytes = [] }
        return Array(self.bytes)
    }
}

/// `bytes` cut into chunks of `size` bytes (the last may be shorter), as a network read would
/// deliver them.
func chunks(_ bytes: [UInt8], size: Int) -> [[UInt8]] {
    stride(from: 0, to: bytes.count, by: max(1, size)).map { Array(bytes[$0..<min($0 + max(1, size), bytes.count)]) }
}

/// The pieces of `bytes` between LF bytes.
func lines(_ bytes: [UInt8]) -> [[UInt8]] {
    bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map(Array.init)
}
