// POP3Core: the TRANSACTION and UPDATE states (RFC 1939 §5, §6, §7).

extension ServerSession {
    enum Lookup {
        case success(MessageInfo)
        case failure(Response)
    }

    /// Handles a line in TRANSACTION. `transaction` has been moved out of `state` (which is
    /// `.modifying` meanwhile); the caller puts it back unless this sets another state.
    mutating func receive_transaction(_ line: ClientLine, _ transaction: inout TransactionState) -> Action {
        guard case .command(let command) = line else {
            return badCommand(.err("no authentication exchange in progress"))
        }
        func message(_ number: MessageNumber) -> Lookup {
            guard number.index < transaction.messages.count else {
                return .failure(Response.err("no such message"))
            }
            guard !transaction.deleted[number.index] else {
                return .failure(Response.err("message \(number) already deleted"))
            }
            return .success(transaction.messages[number.index])
        }

        switch command {
        case .stat:
            return .send(.ok("\(transaction.liveCount) \(transaction.liveOctets)"))
        case .list(nil):
            return .sendListing(
                .ok("\(transaction.liveCount) messages (\(transaction.liveOctets) octets)"),
                Listing(.sizes, messages: transaction.messages, deleted: transaction.deleted)
            )
        case .list(let number?):
            switch message(number) {
            case .success(let info): return .send(.ok("\(number) \(info.size)"))
            case .failure(let response): return .send(response)
            }
        case .uidl(nil):
            return .sendListing(
                .ok("unique-id listing follows"),
                Listing(.uniqueIDs, messages: transaction.messages, deleted: transaction.deleted)
            )
        case .uidl(let number?):
            switch message(number) {
            case .success(let info): return .send(.ok("\(number) \(info.uniqueID)"))
            case .failure(let response): return .send(response)
            }
        case .retr(let number):
            switch message(number) {
            case .success(let info):
                return .streamMessage(index: number.index, header: .ok("\(info.size) octets"), bodyLineLimit: nil)
            case .failure(let response): return .send(response)
            }
        case .top(let number, let lines):
            switch message(number) {
            case .success:
                return .streamMessage(index: number.index, header: .ok("top of message follows"), bodyLineLimit: lines)
            case .failure(let response): return .send(response)
            }
        case .dele(let number):
            switch message(number) {
            case .success(let info):
                transaction.deleted[number.index] = true
                transaction.liveCount -= 1
                transaction.liveOctets &-= info.size
                return .send(.ok("message \(number) deleted"))
            case .failure(let response): return .send(response)
            }
        case .noop:
            return .send(.ok(""))
        case .rset:
            transaction.unmarkAll()
            return .send(.ok("maildrop has \(transaction.liveCount) messages (\(transaction.liveOctets) octets)"))
        case .capa:
            return .sendListing(.ok("Capability list follows"), Listing(.capabilities(capabilities)))
        case .quit:
            // RFC 2449 §6.7: the retention policy's implicit DELE of what this session retrieved.
            let indices = transaction.deleted.indices.filter { index in
                transaction.deleted[index]
                    || (transaction.retrieved[index] && transaction.messages[index].expiresOnRetrieval)
            }
            statistics.expired = indices.count(where: { !transaction.deleted[$0] })
            transaction.pendingDeletions = indices
            state = .update(transaction)
            return .commitDeletions(indices)
        case .user, .pass, .apop, .auth, .stls, .utf8:
            return badCommand(.err("not valid after login"))
        case .lang:
            return badCommand(.err("not supported"))
        case .unknown:
            return badCommand(.err("unknown command"))
        }
    }

    /// A RETR or TOP stream of message `index` (0-based) ended; `octets` is what the encoder
    /// counted. A whole message counts as retrieved (for the logout line, and for EXPIRE).
    public mutating func messageStreamFinished(index: Int, octets: Int, wholeMessage: Bool) {
        statistics.bytesSent += octets
        guard wholeMessage else { return }
        statistics.retrieved += 1
        if case .transaction(var transaction) = state, transaction.retrieved.indices.contains(index) {
            state = .modifying
            transaction.retrieved[index] = true
            state = .transaction(transaction)
        }
    }

    /// A RETR or TOP could not start: the store could not open or read message `index` (another
    /// program removed or changed it since the session began, or the disk failed). Nothing of
    /// the answer was sent, so it is an `-ERR` and the session goes on; the message stays
    /// listed with its size from the session's start (RFC 1939 §8: a fixed maildrop).
    public func messageUnreadable(index: Int) -> Action {
        .send(.err("message \(index + 1) cannot be read: removed or changed since the session began"))
    }

    /// `maildrop.touch()` reported a takeover by a newer login: end without UPDATE.
    public mutating func maildropTakenOver() -> Action {
        state = .closed
        return .sendAndClose(.err("session taken over by a newer login", code: .inUse))
    }

    /// UPDATE finished (RFC 1939 §6).
    public mutating func deletionsCommitted(success: Bool) -> Action {
        guard case .update(let transaction) = state else {
            preconditionFailure("deletions committed outside UPDATE: \(state)")
        }
        state = .closed
        guard success else {
            statistics.expired = 0
            return .sendAndClose(.err("some deleted messages not removed", code: .sysTemp))
        }
        statistics.deleted = transaction.pendingDeletions.count
        let left = transaction.messages.count - transaction.pendingDeletions.count
        let text = left == 0 ? "maildrop empty" : "\(left) messages left"
        return .sendAndClose(.ok("\(configuration.implementation) POP3 server signing off (\(text))"))
    }
}
