// LMTPServer: the slow work the session asks for: recipient lookups and deliveries.
import Accounts
import LMTPCore
import Logging
import MailStore
import ServerMetrics

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Looks recipients up in the ``AccountProvider`` and stores messages through the
/// ``MailStore``; both run off the event loop (the store's blocking work on NIO's thread pool).
struct LMTPDeliveryAgent: Sendable {
    let accounts: any AccountProvider
    let store: any MailStore
    let logger: Logger
    var metrics = ServerMetrics()

    /// The first of the recipient's ``Mailbox/candidateUsers`` that has an account. A
    /// database that cannot be read is a temporary failure, never "unknown": that would bounce
    /// mail for a passing reason (RFC 2033 §4.2).
    func findAccount(for mailbox: Mailbox) async -> LMTPServerSession.RecipientCheck {
        for candidate in mailbox.candidateUsers {
            switch await accounts.lookUpAccount(user: candidate) {
            case .exists:
                return .found(user: candidate)
            case .absent:
                continue
            case .temporaryFailure(let reason):
                logger.warning("\(LMTPLog.lookupFailed(mailbox, reason: reason))")
                return .temporaryFailure
            }
        }
        logger.info("\(LMTPLog.recipientUnknown(mailbox))")
        return .notFound
    }

    /// Stores the message for one account: the store writes it to `tmp/`, fsyncs it and moves
    /// it into `new/`, so a failure leaves nothing in `new/` and the client keeps the message.
    func deliver(_ request: LMTPServerSession.DeliveryRequest) async -> LMTPServerSession.DeliveryOutcome {
        let bytes = DeliveredMessage.bytes(for: request)
        do {
            let file = try await store.deliver(user: request.user, message: bytes)
            logger.info("\(LMTPLog.delivered(request, size: bytes.count, file: file))")
            metrics.lmtpDelivery(.stored)
            return .stored
        } catch {
            let outcome = Self.outcome(for: error)
            let reply =
                switch outcome {
                case .stored: 250
                case .temporaryFailure: 451
                case .storageFull: 452
                case .noSuchUser: 550
                }
            logger.error("\(LMTPLog.deliveryFailed(request, reply: reply, reason: Self.reason(error)))")
            let result: ServerMetrics.LMTPResult =
                switch outcome {
                case .stored: .stored
                case .temporaryFailure: .temporaryFailure
                case .storageFull: .storageFull
                case .noSuchUser: .noSuchUser
                }
            metrics.lmtpDelivery(result)
            return outcome
        }
    }

    /// How a store error is answered: a full disk or quota is `452 4.3.1`, an account the store
    /// cannot hold `550 5.1.1`, anything else `451 4.3.0`. All but the last keep the message with
    /// the client, which tries again.
    static func outcome(for error: any Error) -> LMTPServerSession.DeliveryOutcome {
        switch error {
        case MailStoreError.noSuchUser:
            return .noSuchUser
        case MailStoreError.io(let text) where Self.fullDiskTexts.contains(where: text.hasSuffix):
            // TODO: a typed "no space" error in MailStoreError instead of the errno text.
            return .storageFull
        default:
            return .temporaryFailure
        }
    }

    /// How the store spells ENOSPC and EDQUOT at the end of its I/O error texts.
    static let fullDiskTexts = [ENOSPC, EDQUOT].map { String(cString: strerror($0)) }

    static func reason(_ error: any Error) -> String {
        switch error {
        case MailStoreError.io(let text): text
        case MailStoreError.noSuchUser: "the store has no mailbox for this user"
        default: String(describing: error)
        }
    }
}
