// Test support: drives an LMTPServerSession the way the I/O shell does, without I/O.
import LMTPCore
import NIOCore

/// Feeds bytes to a session and performs its actions against a set of users and scripted
/// delivery outcomes, collecting everything the server would send.
struct SessionDriver {
    var session: LMTPServerSession
    /// Account names that exist.
    var users: Set<String>
    /// Recipients whose lookup fails temporarily (by address).
    var brokenLookups: Set<String> = []
    /// Outcome per account; `.stored` when absent.
    var outcomes: [String: LMTPServerSession.DeliveryOutcome] = [:]
    private(set) var deliveries: [LMTPServerSession.DeliveryRequest] = []
    private(set) var lookups: [Mailbox] = []
    /// Everything the server sent, greeting first.
    private(set) var output = ""
    private(set) var closed = false
    private var input = ByteBuffer()

    init(hostname: String = "lmtp.example.org", limits: LMTPLimits = LMTPLimits(), users: Set<String> = []) {
        self.session = LMTPServerSession(configuration: .init(hostname: hostname, limits: limits))
        self.users = users
        self.output = session.greeting.description
    }

    /// Bytes not consumed yet.
    var pendingInput: Int { input.readableBytes }

    /// Sends `text` in chunks of `chunkSize` bytes (1: drip-fed), running the session after each.
    mutating func send(_ text: String, chunkSize: Int = Int.max) {
        send(bytes: Array(text.utf8), chunkSize: chunkSize)
    }

    mutating func send(bytes: [UInt8], chunkSize: Int = Int.max) {
        var start = 0
        repeat {
            let end = min(bytes.count, start + max(chunkSize, 1))
            input.writeBytes(bytes[start..<end])
            run()
            start = end
        } while start < bytes.count && !closed
    }

    /// Output since the last call.
    mutating func takeOutput() -> String {
        defer { output = "" }
        return output
    }

    mutating func timeOut() {
        perform(session.timedOut())
    }

    mutating func shutdown() {
        perform(session.shutdown())
        run()
    }

    private mutating func run() {
        while !closed {
            let action = session.next(input: &input)
            if case .readMore = action { return }
            perform(action)
        }
    }

    private mutating func perform(_ action: LMTPServerSession.Action) {
        switch action {
        case .readMore:
            break
        case .send(let reply):
            output += reply.description
        case .sendAndClose(let reply):
            output += reply.description
            closed = true
        case .close:
            closed = true
        case .checkRecipient(let mailbox):
            lookups.append(mailbox)
            let result: LMTPServerSession.RecipientCheck
            if brokenLookups.contains(mailbox.address) {
                result = .temporaryFailure
            } else if let user = mailbox.candidateUsers.first(where: users.contains) {
                result = .found(user: user)
            } else {
                result = .notFound
            }
            perform(session.recipientChecked(result))
        case .deliver(let request):
            deliveries.append(request)
            perform(session.deliveryFinished(outcomes[request.user] ?? .stored))
        }
    }
}

/// Lines joined with CRLF, each ended by CRLF: how a transcript's S: lines look on the wire.
func crlf(_ lines: String...) -> String {
    lines.map { $0 + "\r\n" }.joined()
}

/// The message bytes of a delivery as text.
func text(_ request: LMTPServerSession.DeliveryRequest) -> String {
    String(buffer: request.message)
}
