// A minimal POP3 responder for scripted tests: a fixed maildrop, configurable CAPA.

import NIOCore
import Testing

/// Answers commands from one client the way a simple server would, until QUIT.
struct FakePOP3: Sendable {
    var capabilities: [String] = ["USER", "UIDL", "TOP"]
    var messages: [[UInt8]] = []
    /// The UIDL of each message; `uid-N` for those past its end.
    var uniqueIDs: [String] = []
    var user = "alice"
    var password = "secret"
    var greeting = "+OK fake POP3 ready <1896.697170952@dbc.mtview.ca.us>"

    /// Dot-stuffs a message as RFC 1939 §3 says (lines end in CRLF in the fixtures).
    static func stuffed(_ message: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var atLineStart = true
        var previous: UInt8 = 0
        for byte in message {
            if atLineStart && byte == UInt8(ascii: ".") { out.append(UInt8(ascii: ".")) }
            out.append(byte)
            atLineStart = previous == 13 && byte == 10
            previous = byte
        }
        if !message.isEmpty && !atLineStart { out += [13, 10] }
        return out + Array(".\r\n".utf8)
    }

    /// Sends the greeting (unless told not to) and serves commands until QUIT or end of input.
    func serve(_ peer: ScriptedPeer, greet: Bool = true) async throws {
        if greet { try await peer.send(self.greeting + "\r\n") }
        var deleted: Set<Int> = []
        var loggedIn = false
        while let line = try await peer.readLine() {
            let words = line.split(separator: " ").map(String.init)
            let keyword = words.first?.uppercased() ?? ""
            let argument = words.count > 1 ? Int(words[1]) : nil
            switch keyword {
            case "CAPA":
                try await peer.send("+OK\r\n" + self.capabilities.map { $0 + "\r\n" }.joined() + ".\r\n")
            case "USER":
                try await peer.send(words.count > 1 && words[1] == self.user ? "+OK\r\n" : "-ERR who?\r\n")
            case "PASS":
                loggedIn = words.count > 1 && words[1] == self.password
                try await peer.send(loggedIn ? "+OK logged in\r\n" : "-ERR [AUTH] wrong password\r\n")
            case "STAT":
                let size = self.messages.reduce(0) { $0 + $1.count }
                try await peer.send("+OK \(self.messages.count) \(size)\r\n")
            case "LIST":
                let lines = self.messages.enumerated().map { "\($0.offset + 1) \($0.element.count)\r\n" }
                try await peer.send("+OK\r\n" + lines.joined() + ".\r\n")
            case "UIDL":
                let lines = self.messages.indices.map { index in
                    "\(index + 1) \(index < self.uniqueIDs.count ? self.uniqueIDs[index] : "uid-\(index + 1)")\r\n"
                }
                try await peer.send("+OK\r\n" + lines.joined() + ".\r\n")
            case "RETR":
                guard let number = argument, self.messages.indices.contains(number - 1) else {
                    try await peer.send("-ERR no such message\r\n")
                    continue
                }
                try await peer.send(
                    bytes: Array("+OK message follows\r\n".utf8) + Self.stuffed(self.messages[number - 1])
                )
            case "DELE":
                guard let number = argument, self.messages.indices.contains(number - 1), !deleted.contains(number)
                else {
                    try await peer.send("-ERR no such message\r\n")
                    continue
                }
                deleted.insert(number)
                try await peer.send("+OK deleted\r\n")
            case "NOOP", "RSET":
                try await peer.send("+OK\r\n")
            case "QUIT":
                try await peer.send("+OK bye\r\n")
                return
            default:
                try await peer.send("-ERR unknown command\r\n")
            }
        }
    }
}
