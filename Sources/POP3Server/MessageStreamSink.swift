// POP3Server: the bounded hand-off of a message body from the task reading it to the event loop.
import NIOConcurrencyHelpers
import NIOCore

/// Carries encoded chunks of a RETR/TOP body from the task that reads the message to the
/// event loop that writes them.
///
/// ``send(_:)`` returns as soon as the chunk is handed over while at most
/// ``maximumChunksInFlight`` chunks are written but not yet taken by the socket; beyond that it
/// waits. So reading the next chunk overlaps writing the last one, and a peer that stops
/// reading holds at most that many chunks (plus the kernel's socket buffer).
final class MessageStreamSink: Sendable {
    /// Chunks handed to the loop whose write has not completed, before ``send(_:)`` waits.
    static let maximumChunksInFlight = 2

    private struct State {
        var inFlight = 0
        var waiter: CheckedContinuation<Void, any Error>?
        var closed = false
    }

    private struct ConnectionClosed: Error {}

    // A pthread-backed lock (NIOLockedValueBox), which the thread sanitizer understands.
    private let state = NIOLockedValueBox(State())
    private let handler: NIOLoopBound<POP3ServerHandler>
    private let eventLoop: any EventLoop

    init(handler: NIOLoopBound<POP3ServerHandler>, eventLoop: any EventLoop) {
        self.handler = handler
        self.eventLoop = eventLoop
    }

    /// Hands `chunk` to the loop for writing; waits while too many chunks are in flight.
    /// Throws once the connection is gone.
    func send(_ chunk: ByteBuffer) async throws {
        let mustWait = try self.state.withLockedValue { state -> Bool in
            guard !state.closed else { throw ConnectionClosed() }
            state.inFlight += 1
            return state.inFlight > Self.maximumChunksInFlight
        }
        if self.eventLoop.inEventLoop {
            self.handler.value.writeStreamChunk(chunk, sink: self)
            if !mustWait {
                // A store that answers without suspending would otherwise stream the whole
                // message before the loop serves another connection: let the others go first.
                await Task.yield()
                return
            }
        } else {
            let handler = self.handler
            self.eventLoop.execute { handler.value.writeStreamChunk(chunk, sink: self) }
        }
        guard mustWait else { return }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let ready: Result<Void, any Error>? = self.state.withLockedValue { state in
                if state.closed { return .failure(ConnectionClosed()) }
                if state.inFlight <= Self.maximumChunksInFlight { return .success(()) }
                state.waiter = continuation
                return nil
            }
            if let ready { continuation.resume(with: ready) }
        }
    }

    /// On the loop: the socket took a chunk, or the write failed (the connection is gone).
    func chunkWritten(success: Bool) {
        let (waiter, result): (CheckedContinuation<Void, any Error>?, Result<Void, any Error>) =
            self.state.withLockedValue { state in
                state.inFlight -= 1
                if !success { state.closed = true }
                guard state.closed || state.inFlight <= Self.maximumChunksInFlight else {
                    return (nil, .success(()))
                }
                defer { state.waiter = nil }
                return (state.waiter, state.closed ? .failure(ConnectionClosed()) : .success(()))
            }
        waiter?.resume(with: result)
    }

    /// On the loop: the channel closed; a waiting or later ``send(_:)`` throws.
    func connectionClosed() {
        let waiter = self.state.withLockedValue { state -> CheckedContinuation<Void, any Error>? in
            state.closed = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(throwing: ConnectionClosed())
    }
}
