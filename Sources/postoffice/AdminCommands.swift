import ArgumentParser
import FileIO
import Foundation
import Glibc

/// `postoffice who`: the sessions a running server has open, through its admin socket.
struct WhoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "who",
        abstract: "List the POP3 sessions of the running server (through its admin socket; root only)."
    )

    @OptionGroup var site: SiteOptions
    @OptionGroup var admin: AdminSocketOption

    func run() async throws {
        let answer = try await AdminClient.request("who", site: site, admin: admin)
        let rows = answer.split(separator: "\n").map { $0.split(separator: "\t", omittingEmptySubsequences: false) }
        say("USER                 PEER                                           LISTENER  SECONDS")
        for row in rows where row.count == 4 {
            let padded = [(row[0], 20), (row[1], 46), (row[2], 9)].map { text, width in
                text.padding(toLength: max(width, text.count), withPad: " ", startingAt: 0)
            }
            say(padded.joined(separator: " ") + " " + row[3])
        }
    }
}

/// `postoffice kick USER`: ends every session of USER at once (nothing is deleted).
struct KickCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kick",
        abstract: "End the POP3 sessions of USER on the running server, without deleting anything (root only)."
    )

    @OptionGroup var site: SiteOptions
    @OptionGroup var admin: AdminSocketOption

    @Argument(help: "The account whose sessions end.")
    var user: String

    func run() async throws {
        guard !user.isEmpty, !user.contains(where: { $0.isWhitespace }) else {
            throw ValidationError("'\(user)' is not an account name")
        }
        let answer = try await AdminClient.request("kick \(user)", site: site, admin: admin)
        let count =
            answer.hasPrefix("kicked ") ? Int(answer.dropFirst(7).trimmingCharacters(in: .whitespacesAndNewlines)) : nil
        guard let count else { throw ValidationError("unexpected answer from the server: \(answer)") }
        say(count == 0 ? "\(user) has no session open" : "ended \(count) session\(count == 1 ? "" : "s") of \(user)")
    }
}

/// One request over the admin socket of the server the site options describe.
enum AdminClient {
    /// The server's answer to one request must fit in this.
    static let maximumAnswerLength = 16 * 1024 * 1024

    static func request(_ line: String, site: SiteOptions, admin: AdminSocketOption) async throws -> String {
        var section = try site.loadServerSection()
        let siteSettings = try site.resolveSite(section: &section)
        let path = try admin.resolve(section: &section, site: siteSettings)
        let answer = try await BlockingIO.run { try exchange(line + "\n", path: path) }
        if answer.hasPrefix("error: ") {
            throw ValidationError("the server refused: \(answer.dropFirst(7).trimmingCharacters(in: .newlines))")
        }
        return answer
    }

    private static func exchange(_ request: String, path: String) throws -> String {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw failure("socket") }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw ValidationError("the admin socket path \(path) is too long")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard connected == 0 else {
            let reason = String(cString: strerror(errno))
            throw ValidationError(
                "cannot reach the server's admin socket \(path): \(reason) (is `postoffice serve` running, and are you root?)"
            )
        }
        var pending = Array(request.utf8)
        while !pending.isEmpty {
            let written = write(fd, pending, pending.count)
            guard written > 0 else { throw failure("write") }
            pending.removeFirst(written)
        }
        var answer: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = read(fd, &buffer, buffer.count)
            guard count >= 0 else { throw failure("read") }
            if count == 0 { break }
            answer += buffer[0..<count]
            guard answer.count <= maximumAnswerLength else { throw ValidationError("the server's answer is too long") }
        }
        return String(decoding: answer, as: UTF8.self)
    }

    private static func failure(_ call: String) -> ValidationError {
        ValidationError("\(call) on the admin socket: \(String(cString: strerror(errno)))")
    }
}
