// Test support: the line client over a Unix-domain socket (the LMTP listener's usual transport).
public import NIOCore
import NIOPosix

extension POP3LineClient {
    /// Connects to the Unix-domain socket at `path`, runs `body`, and closes.
    public static func withConnection<Result>(
        unixDomainSocketPath path: String,
        deadline: TimeAmount = .seconds(30),
        _ body: (POP3LineClient) async throws -> Result
    ) async throws -> Result {
        let asyncChannel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(unixDomainSocketPath: path) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return try await run(asyncChannel, deadline: deadline, body)
    }
}
