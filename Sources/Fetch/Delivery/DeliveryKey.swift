import Crypto
// The local identity of a message: derived from (account, unique id, generation), never random.
public import MailCore

/// A stable key for a downloaded message. Local names contain `hash`, so a re-download after a
/// crash finds (or overwrites) the earlier copy instead of storing it twice (invariant 2).
public struct DeliveryKey: Hashable, Sendable {
    public var account: String
    public var uniqueID: UniqueID
    public var generation: Int

    public init(account: String, uniqueID: UniqueID, generation: Int = 0) {
        self.account = account
        self.uniqueID = uniqueID
        self.generation = generation
    }

    /// 32 lowercase hex digits: the first 128 bits of SHA-256 over
    /// `account NUL uniqueID` (and `NUL g<generation>` when the generation is not 0).
    /// Fixed forever: changing it would break the recognition of earlier copies.
    public var hash: String {
        var input = Array(account.utf8)
        input.append(0)
        input.append(contentsOf: uniqueID.rawValue.utf8)
        if generation != 0 {
            input.append(0)
            input.append(contentsOf: "g\(generation)".utf8)
        }
        let digest = SHA256.hash(data: input)
        return digest.prefix(16).map { byte in
            let hex = Array("0123456789abcdef".utf8)
            return String(decoding: [hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]], as: UTF8.self)
        }.joined()
    }
}

/// What a delivery target needs to know about the message it stores.
public struct DeliveryEnvelope: Hashable, Sendable {
    public var key: DeliveryKey
    /// The POP3 server's host, for the trace header.
    public var serverHost: String
    /// The account's user name, for the trace header.
    public var user: String
    /// When it was received, in seconds since 1970.
    public var receivedAt: Int64
    /// Only the header (`TOP n 0`) is stored.
    public var headersOnly: Bool
    /// An interrupted run handed this message to the delivery command without learning whether
    /// it was accepted (`FetchPlan.Download.mayDuplicate`).
    public var mayDuplicate: Bool

    public init(
        key: DeliveryKey,
        serverHost: String,
        user: String,
        receivedAt: Int64,
        headersOnly: Bool = false,
        mayDuplicate: Bool = false
    ) {
        self.key = key
        self.serverHost = serverHost
        self.user = user
        self.receivedAt = receivedAt
        self.headersOnly = headersOnly
        self.mayDuplicate = mayDuplicate
    }
}
