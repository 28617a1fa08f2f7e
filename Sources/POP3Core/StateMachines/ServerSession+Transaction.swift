// POP3Core: the TRANSACTION and UPDATE states (RFC 1939 §5, §6, §7).

extension ServerSession {
    enum Lookup {
        case success(MessageInfo)
        case failure(Response)
    }

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
        var live: [(number: Int, info: MessageInfo)] {
            transaction.messages.enumerated().filter { !transaction.deleted[$0.offset] }.map {
                ($0.offset + 1, $0.element)
            }
        }

        let action: Action
        switch command {
        case .stat:
            let messages = live
            action = .send(.ok("\(messages.count) \(messages.reduce(0) { $0 &+ $1.info.size })"))
        case .list(nil):
            let messages = live
            let octets = messages.reduce(0) { $0 &+ $1.info.size }
            action = .sendMultiLine(
                .ok("\(messages.count) messages (\(octets) octets)"),
                lines: messages.map { "\($0.number) \($0.info.size)" }
            )
        case .list(let number?):
            switch message(number) {
            case .success(let info): action = .send(.ok("\(number) \(info.size)"))
            case .failure(let response): action = .send(response)
            }
        case .uidl(nil):
            action = .sendMultiLine(
                .ok("unique-id listing follows"),
                lines: live.map { "\($0.number) \($0.info.uniqueID)" }
            )
        case .uidl(let number?):
            switch message(number) {
            case .success(let info): action = .send(.ok("\(number) \(info.uniqueID)"))
            case .failure(let response): action = .send(response)
            }
        case .retr(let number):
            switch message(number) {
            case .success(let info):
                action = .streamMessage(index: number.index, header: .ok("\(info.size) octets"), bodyLineLimit: nil)
            case .failure(let response): action = .send(response)
            }
        case .top(let number, let lines):
            switch message(number) {
            case .success:
                action = .streamMessage(
                    index: number.index,
                    header: .ok("top of message follows"),
                    bodyLineLimit: lines
                )
            case .failure(let response): action = .send(response)
            }
        case .dele(let number):
            switch message(number) {
            case .success:
                transaction.deleted[number.index] = true
                action = .send(.ok("message \(number) deleted"))
            case .failure(let response): action = .send(response)
            }
        case .noop:
            action = .send(.ok(""))
        case .rset:
            transaction.deleted = Array(repeating: false, count: transaction.messages.count)
            let octets = transaction.messages.reduce(0) { $0 &+ $1.size }
            action = .send(.ok("maildrop has \(transaction.messages.count) messages (\(octets) octets)"))
        case .capa:
            action = .sendMultiLine(.ok("Capability list follows"), lines: capabilities.map(\.description))
        case .quit:
            let indices = transaction.deleted.indices.filter { transaction.deleted[$0] }
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
        state = .transaction(transaction)
        return action
    }

    /// A RETR or TOP stream ended; `octets` is what the encoder counted (statistics only).
    public mutating func messageStreamFinished(octets: Int, wholeMessage: Bool) {
        statistics.bytesSent += octets
        if wholeMessage { statistics.retrieved += 1 }
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
            return .sendAndClose(.err("some deleted messages not removed", code: .sysTemp))
        }
        statistics.deleted = transaction.pendingDeletions.count
        let left = transaction.messages.count - transaction.pendingDeletions.count
        let text = left == 0 ? "maildrop empty" : "\(left) messages left"
        return .sendAndClose(.ok("\(configuration.implementation) POP3 server signing off (\(text))"))
    }
}
