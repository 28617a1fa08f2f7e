// The package's one way to run another program (an MDA, a password command, a pager).
//
// Foundation's `Process` learns that a child ended when a socket the child inherited reaches
// end of file. Any other child started at the same moment (a concurrent `Process`, a server a
// test spawns) can inherit that socket too and keep it open, so `waitUntilExit()` waits as long
// as the unrelated child lives: two MDA runs and a long-lived daemon were enough to hang a
// fetch for good. This runner waits for the child's own pid with `waitpid`, closes every
// descriptor above standard error in the child, and resets the signals a parent may ignore.
// It blocks: call it through `BlockingIO.run`.

import CFileIO

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// A program run to completion: `posix_spawn`, then `waitpid` on its pid.
public struct ChildProcess: Sendable {
    /// What the child reads on standard input.
    public enum Input: Sendable {
        /// `/dev/null`.
        case nullDevice
        /// The parent's standard input (an interactive program).
        case inherit
        /// A file, opened read-only.
        case file(path: String)
        /// These bytes, through a pipe, then end of file.
        case bytes([UInt8])
    }

    /// Where the child's standard output goes; standard error is always the parent's.
    public enum Output: Sendable {
        case discard
        case inherit
        /// Collected and returned, at most `ChildProcess.maximumCapturedBytes`.
        case capture
    }

    /// How the child ended.
    public enum Termination: Sendable, Equatable, CustomStringConvertible {
        case exited(Int32)
        case signalled(Int32)

        public var succeeded: Bool { self == .exited(0) }

        public var description: String {
            switch self {
            case .exited(let status): "exited with status \(status)"
            case .signalled(let signal): "was killed by signal \(signal)"
            }
        }
    }

    /// The program could not be started (or its input not opened).
    public struct StartError: Error, CustomStringConvertible, Sendable {
        public var operation: String
        public var path: String
        public var errno: Int32

        public var description: String {
            "\(operation) \(path): \(String(cString: strerror(errno)))"
        }
    }

    public struct Result: Sendable {
        public var termination: Termination
        /// Standard output when it was captured, else empty.
        public var output: [UInt8]
    }

    /// A captured output longer than this is cut there (a password command that prints a
    /// megabyte is a mistake, not a password); the rest is read and dropped so the child ends.
    public static let maximumCapturedBytes = 1 << 20

    /// The program, an absolute path, and its arguments (the first is `argv[0]`).
    public var executable: String
    public var arguments: [String]
    /// The whole environment of the child; `nil` passes the parent's.
    public var environment: [String: String]?

    public init(executable: String, arguments: [String], environment: [String: String]? = nil) {
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
    }

    /// `/bin/sh -c COMMAND`, as mail tools run a user's delivery or password command.
    public static func shell(_ command: String, environment: [String: String]? = nil) -> ChildProcess {
        ChildProcess(executable: "/bin/sh", arguments: ["sh", "-c", command], environment: environment)
    }

    /// Runs the program to its end. Throws only when it cannot be started; how it ended is in
    /// the result.
    public func run(input: Input = .nullDevice, output: Output = .discard) throws(ChildProcess.StartError) -> Result {
        var inputPipe: (read: Int32, write: Int32)?
        var outputPipe: (read: Int32, write: Int32)?
        var inputFile: Int32 = -1
        defer {
            for descriptor in [inputPipe?.read, inputPipe?.write, outputPipe?.read, outputPipe?.write, inputFile] {
                if let descriptor, descriptor >= 0 { close(descriptor) }
            }
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }

        switch input {
        case .nullDevice:
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        case .inherit:
            break
        case .file(let path):
            inputFile = open(path, O_RDONLY | O_CLOEXEC)
            guard inputFile >= 0 else { throw StartError(operation: "open", path: path, errno: errno) }
            posix_spawn_file_actions_adddup2(&actions, inputFile, 0)
        case .bytes:
            inputPipe = try Self.makePipe()
            posix_spawn_file_actions_adddup2(&actions, inputPipe!.read, 0)
        }
        switch output {
        case .discard:
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        case .inherit:
            break
        case .capture:
            outputPipe = try Self.makePipe()
            posix_spawn_file_actions_adddup2(&actions, outputPipe!.write, 1)
        }
        // Nothing of ours but 0, 1 and 2 reaches the child (sockets, locks, other pipes).
        postoffice_spawn_add_closefrom(&actions, 3)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGPIPE, SIGCHLD, SIGHUP, SIGINT, SIGTERM, SIGQUIT, SIGUSR1, SIGUSR2] {
            sigaddset(&defaults, signal)
        }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let pid = try self.spawn(actions: &actions, attributes: &attributes)
        // The child holds its own copies now.
        if let pipe = inputPipe {
            close(pipe.read)
            inputPipe!.read = -1
        }
        if let pipe = outputPipe {
            close(pipe.write)
            outputPipe!.write = -1
        }

        var captured: [UInt8] = []
        if case .bytes(let bytes) = input, let pipe = inputPipe {
            // Feed and drain together: a child that answers as it reads (cat) fills its output
            // pipe long before it has read all of its input.
            inputPipe!.write = -1  // exchange closes it as soon as everything is written
            captured = Self.exchange(bytes, into: pipe.write, collectingFrom: outputPipe?.read)
        } else if let pipe = outputPipe {
            captured = Self.exchange([], into: nil, collectingFrom: pipe.read)
        }
        return Result(termination: Self.wait(for: pid), output: captured)
    }

    private func spawn(
        actions: inout posix_spawn_file_actions_t,
        attributes: inout posix_spawnattr_t
    ) throws(ChildProcess.StartError) -> pid_t {
        let argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let environmentLines: [String]
        if let environment {
            environmentLines = environment.map { "\($0.key)=\($0.value)" }
        } else {
            var lines: [String] = []
            var entry = environ
            while let line = entry.pointee {
                lines.append(String(cString: line))
                entry += 1
            }
            environmentLines = lines
        }
        let envp = environmentLines.map { strdup($0) } + [nil]
        defer { envp.forEach { free($0) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard result == 0 else { throw StartError(operation: "posix_spawn", path: executable, errno: result) }
        return pid
    }

    private static func makePipe() throws(ChildProcess.StartError) -> (read: Int32, write: Int32) {
        var descriptors: [Int32] = [-1, -1]
        guard postoffice_pipe_cloexec(&descriptors) == 0 else {
            throw StartError(operation: "pipe", path: "", errno: errno)
        }
        return (descriptors[0], descriptors[1])
    }

    /// Writes all of `input` to `inputDescriptor` and closes it (which it owns) while it reads
    /// `outputDescriptor` to its end, whichever is ready, with poll(2). A child that stops
    /// reading early (EPIPE) ends the writing, not the process: SIGPIPE is blocked on this thread
    /// meanwhile and a pending one consumed.
    private static func exchange(
        _ input: [UInt8],
        into inputDescriptor: Int32?,
        collectingFrom outputDescriptor: Int32?
    ) -> [UInt8] {
        var pipeSignal = sigset_t()
        sigemptyset(&pipeSignal)
        sigaddset(&pipeSignal, SIGPIPE)
        var previous = sigset_t()
        pthread_sigmask(SIG_BLOCK, &pipeSignal, &previous)
        defer {
            var pending = sigset_t()
            sigpending(&pending)
            if sigismember(&pending, SIGPIPE) == 1 {
                var none = timespec(tv_sec: 0, tv_nsec: 0)
                _ = sigtimedwait(&pipeSignal, nil, &none)
            }
            pthread_sigmask(SIG_SETMASK, &previous, nil)
        }
        var writing = inputDescriptor != nil && !input.isEmpty
        var inputClosed = false
        if let inputDescriptor {
            // Our end never blocks: poll says when it can take more.
            _ = fcntl(inputDescriptor, F_SETFL, fcntl(inputDescriptor, F_GETFL) | O_NONBLOCK)
        }
        defer {
            if let inputDescriptor, !inputClosed { close(inputDescriptor) }
        }
        var reading = outputDescriptor != nil
        var offset = 0
        var collected: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while writing || reading {
            var descriptors: [pollfd] = []
            if writing { descriptors.append(pollfd(fd: inputDescriptor!, events: Int16(POLLOUT), revents: 0)) }
            if reading { descriptors.append(pollfd(fd: outputDescriptor!, events: Int16(POLLIN), revents: 0)) }
            if poll(&descriptors, nfds_t(descriptors.count), -1) < 0 {
                if errno == EINTR { continue }
                break
            }
            for descriptor in descriptors where descriptor.revents != 0 {
                if writing && descriptor.fd == inputDescriptor {
                    // At most one pipe buffer per turn, so the write never blocks for long.
                    let count = min(input.count - offset, 64 * 1024)
                    let written = input.withUnsafeBytes { write(descriptor.fd, $0.baseAddress! + offset, count) }
                    if written > 0 {
                        offset += written
                        if offset == input.count { writing = false }
                    } else if written < 0 && errno != EINTR && errno != EAGAIN {
                        writing = false  // EPIPE: the child is not reading any more
                    }
                } else if reading && descriptor.fd == outputDescriptor {
                    let count = chunk.withUnsafeMutableBytes { read(descriptor.fd, $0.baseAddress, $0.count) }
                    if count > 0 {
                        let room = maximumCapturedBytes - collected.count
                        if room > 0 { collected.append(contentsOf: chunk[..<min(count, room)]) }
                    } else if count == 0 || (errno != EINTR && errno != EAGAIN) {
                        reading = false
                    }
                }
            }
            if !writing, let descriptor = inputDescriptor, !inputClosed {
                close(descriptor)  // end of file for the child
                inputClosed = true
            }
        }
        return collected
    }

    private static func wait(for pid: pid_t) -> Termination {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else { return .exited(-1) }
        }
        // WIFEXITED / WEXITSTATUS / WTERMSIG, which Swift does not import as macros.
        let signal = status & 0x7f
        if signal == 0 { return .exited((status >> 8) & 0xff) }
        return .signalled(signal)
    }
}
