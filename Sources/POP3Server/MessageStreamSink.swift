// POP3Server: the bounded hand-off of a message body from the task reading it to the event loop.
import NIOConcurrencyHelpers
import NIOCore

/// Carries encoded chunks of a RETR/TOP body from the task that reads the message to the
/// event loop that writes them.
///
/// ``send(_:)`` hands a chunk over as soon as fewer than ``maximumChunksInFlight`` chunks are
/// written but not yet taken by the socket, and waits otherwise. So reading the next chunk
/// overlaps writing the last one, and a peer that stops reading holds at most that many
/// chunks in the server (plus the kernel's socket buffers).
final class MessageStreamSink: Sendable {
    /// Chunks handed to the loop whose write has not completed; ``send(_:)`` waits for fewer.
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

    /// Hands `chunk` to the loop for writing, once fewer than ``maximumChunksInFlight``
    /// chunks are written but not yet taken by the socket. Throws once the connection is gone.
    func send(_ chunk: ByteBuffer) async throws {
        try await self.waitForRoom()
        if self.eventLoop.inEventLoop {
            self.handler.value.writeStreamChunk(chunk, sink: self)
            // A store that answers without suspending would otherwise stream the whole
            // message before the loop serves another connection: let the others go first.
            await Task.yield()
        } else {
            let handler = self.handler
            self.eventLoop.execute { handler.value.writeStreamChunk(chunk, sink: self) }
        }
    }

    /// Takes a slot for one chunk, waiting for one to free up.
    private func waitForRoom() async throws {
        let taken = try self.state.withLockedValue { state -> Bool in
            guard !state.closed else { throw ConnectionClosed() }
            guard state.inFlight < Self.maximumChunksInFlight else { return false }
            state.inFlight += 1
            return true
        }
        if taken { return }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let ready: Result<Void, any Error>? = self.state.withLockedValue { state in
                if state.closed { return .failure(ConnectionClosed()) }
                guard state.inFlight < Self.maximumChunksInFlight else {
                    state.waiter = continuation
                    return nil
                }
                state.inFlight += 1
                return .success(())
            }
            if let ready { continuation.resume(with: ready) }
        }
    }

    /// On the loop: the socket took a chunk, or the write failed (the connection is gone).
    /// A waiting ``send(_:)`` gets the freed slot.
    func chunkWritten(success: Bool) {
        let (waiter, result): (CheckedContinuation<Void, any Error>?, Result<Void, any Error>) =
            self.state.withLockedValue { state in
                state.inFlight -= 1
                if !success { state.closed = true }
                guard let waiter = state.waiter else { return (nil, .success(())) }
                state.waiter = nil
                if state.closed { return (waiter, .failure(ConnectionClosed())) }
                state.inFlight += 1
                return (waiter, .success(()))
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
