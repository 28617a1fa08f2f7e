import ArgumentParser
import LMTPServer

/// An LMTP listener as `serve --lmtp` and `[server].lmtp` spell it: `HOST:PORT`, `[IPv6]:PORT`
/// or `unix:PATH` (issue 9's contract).
struct LMTPListenAddress: Hashable, Sendable, CustomStringConvertible {
    var endpoint: LMTPServerConfiguration.Endpoint

    init?(parsing text: String) {
        if text.hasPrefix("unix:") {
            let path = String(text.dropFirst(5))
            guard !path.isEmpty, !path.utf8.contains(0) else { return nil }
            endpoint = .unix(path: path)
        } else {
            guard let address = ListenAddress(parsing: text) else { return nil }
            endpoint = .tcp(host: address.host, port: address.port)
        }
    }

    var description: String { endpoint.description }
}

extension LMTPListenAddress: ExpressibleByArgument {
    init?(argument: String) { self.init(parsing: argument) }
    static var defaultCompletionKind: CompletionKind { .default }
}

extension ServeOptions {
    /// `--lmtp` flags, else `[server].lmtp`; `[server].lmtp_max_message_size` in bytes.
    func resolveLMTP(section: inout ConfigSection?, into settings: inout ServerSettings) throws {
        let fileListeners = try (section?.strings("lmtp") ?? []).map { text in
            guard let address = LMTPListenAddress(parsing: text) else {
                throw ConfigError("[server].lmtp: '\(text)' is not HOST:PORT or unix:PATH")
            }
            return address
        }
        settings.lmtp = (lmtp.isEmpty ? fileListeners : lmtp).map(\.endpoint)
        if let size = try section?.int("lmtp_max_message_size") {
            guard size >= 1024 else { throw ConfigError("[server].lmtp_max_message_size must be at least 1024 bytes") }
            settings.lmtpMaxMessageSize = size
        }
    }
}
