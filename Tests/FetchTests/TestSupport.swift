import Foundation
import Logging

@testable import Fetch

/// A fresh temporary directory, removed by `cleanup()`.
struct TemporaryDirectory {
    let path: String

    init() throws {
        let base = FileManager.default.temporaryDirectory.path
        path = base + "/fetch-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func cleanup() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

let testLogger = Logger(label: "fetch-tests") { _ in SwiftLogNoOpLogHandler() }

/// A message with CRLF line ends, a dot line, a From line in the body and a unique body.
func sampleMessage(_ index: Int) -> String {
    "Subject: message \(index)\r\nMessage-ID: <\(index)@example.org>\r\n\r\nbody \(index)\r\n.\r\n"
        + "From here on\r\n>From quoted\r\nend \(index)\r\n"
}

/// What a sample message looks like stored locally (LF line ends).
func localForm(_ text: String) -> String {
    text.replacingOccurrences(of: "\r\n", with: "\n")
}

func makeAccount(
    _ directory: TemporaryDirectory,
    target: DeliveryTarget? = nil,
    policy: FetchPolicy = FetchPolicy(),
    name: String = "test"
) -> FetchAccount {
    FetchAccount(
        name: name,
        host: "pop.example.org",
        port: 110,
        security: .plaintext,
        user: "alice",
        password: .none,
        policy: policy,
        target: target ?? .maildir(path: directory.path + "/Maildir"),
        statePath: directory.path + "/state.sqlite",
        pipelineWindow: 2
    )
}

func fetchOnce(
    _ account: FetchAccount,
    server: FakeMailServer,
    now: Int64 = 1_700_000_000,
    faults: FaultInjector = .none,
    markSeen: Bool = false,
    imports: [StateImport] = [],
    stop: FetchStopSignal = FetchStopSignal()
) async -> FetchReport {
    let options = FetchOptions(
        markSeen: markSeen,
        imports: imports,
        clock: .fixed(now),
        faults: faults,
        stop: stop,
        connector: { _ in FakeConnector(server: server) }
    )
    return await runFetch(accounts: [account], options: options, logger: testLogger)
}

/// Messages stored locally by unique id (from the X-PostOffice-UIDL header), with their content
/// after the trace headers.
func maildirMessages(_ root: String) throws -> [(uid: String, content: String, name: String)] {
    var result: [(uid: String, content: String, name: String)] = []
    for sub in ["new", "cur"] {
        for name in try FileManager.default.contentsOfDirectory(atPath: root + "/" + sub).sorted() {
            let text = try String(contentsOfFile: root + "/" + sub + "/" + name, encoding: .utf8)
            result.append(splitTrace(text, name: sub + "/" + name))
        }
    }
    return result
}

/// Removes our trace headers from the top of a stored message.
func splitTrace(_ text: String, name: String) -> (uid: String, content: String, name: String) {
    var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
    var uid = ""
    while let first = lines.first,
        first.hasPrefix("Received: from ") || first.hasPrefix("X-PostOffice-")
    {
        if first.hasPrefix("X-PostOffice-UIDL: ") { uid = String(first.dropFirst("X-PostOffice-UIDL: ".count)) }
        lines.removeFirst()
    }
    return (uid, lines.joined(separator: "\n"), name)
}

/// Reads an mboxrd file back: entries split at `From ` lines after a blank line, `>From` unquoted.
func mboxMessages(_ path: String) throws -> [(uid: String, content: String, name: String)] {
    guard FileManager.default.fileExists(atPath: path) else { return [] }
    let text = try String(contentsOfFile: path, encoding: .utf8)
    var entries: [[Substring]] = []
    var previousBlank = true
    for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
        if previousBlank && line.hasPrefix("From ") {
            entries.append([])
        } else if !entries.isEmpty {
            entries[entries.count - 1].append(line)
        }
        previousBlank = line.isEmpty
    }
    return entries.map { lines in
        var body = lines.map { line -> Substring in
            let stripped = line.drop { $0 == ">" }
            return stripped.hasPrefix("From ") && line.first == ">" ? line.dropFirst() : line
        }
        // The separator blank line and the file's trailing newline.
        while body.last == "" { body.removeLast() }
        return splitTrace(body.joined(separator: "\n") + "\n", name: "mbox")
    }
}

/// Messages a delivery command wrote, one file each, in `directory`.
func deliveredMessages(_ directory: String) throws -> [(uid: String, content: String, name: String)] {
    guard FileManager.default.fileExists(atPath: directory) else { return [] }
    return try FileManager.default.contentsOfDirectory(atPath: directory).sorted().map { name in
        splitTrace(try String(contentsOfFile: directory + "/" + name, encoding: .utf8), name: name)
    }
}
