// POP3Server: password checks for clients that failed recently, a few at a time.
import NIOConcurrencyHelpers
import NIOCore

/// Lets at most ``limit`` password checks for suspect clients (an address with a recent failed
/// login, ``AuthFailureDelays/hasRecentFailures(address:now:)``) run at once; the others wait
/// here, in order, without a thread. Checks for other clients pass straight through.
///
/// Password hashing runs on a small pool, one thread per processor, first come first served. A
/// login flood (wrong passwords, and unknown users, whose dummy yescrypt costs as much as a real
/// check) filled its queue, and every other client's check waited behind it: a second and more
/// for one PASS (docs/RELIABILITY.md, `authflood`). With the gate a flood holds at most
/// ``limit`` of the pool's threads; a client that has not failed waits behind at most that many
/// checks.
final class SuspectCheckGate: Sendable {
    private struct State {
        var running = 0
        var waiting = CircularBuffer<CheckedContinuation<Void, Never>>()
    }

    /// Suspect checks running at once.
    let limit: Int
    private let state = NIOLockedValueBox(State())

    /// Half the processors (the hashing pool has one thread per processor), at least one.
    static var defaultLimit: Int { max(1, ProcessorCount.available / 2) }

    init(limit: Int = SuspectCheckGate.defaultLimit) {
        precondition(limit > 0, "a gate must let one check through")
        self.limit = limit
    }

    /// Runs `check`, after the suspect checks ahead of it when `suspect`.
    func run<Result: Sendable>(suspect: Bool, _ check: () async -> Result) async -> Result {
        guard suspect else { return await check() }
        await self.enter()
        defer { self.leave() }
        return await check()
    }

    /// Suspect checks waiting for their turn (for tests).
    var waitingCount: Int { self.state.withLockedValue { $0.waiting.count } }

    private func enter() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let admitted = self.state.withLockedValue { state in
                guard state.running < self.limit else {
                    state.waiting.append(continuation)
                    return false
                }
                state.running += 1
                return true
            }
            if admitted {
                continuation.resume()
            }
        }
    }

    private func leave() {
        let next = self.state.withLockedValue { state -> CheckedContinuation<Void, Never>? in
            guard let next = state.waiting.popFirst() else {
                state.running -= 1
                return nil
            }
            return next  // its turn: `running` stays as it is
        }
        next?.resume()
    }
}
