// postoffice-bench: drives any POP3 server at host:port and measures it (Benchmarks/compare.sh runs
// it against PostOffice and Dovecot); `responder` is a trivial in-memory POP3 server that shows
// the generator is not the bottleneck.

import ArgumentParser

@main
struct PostOfficeBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "postoffice-bench",
        abstract: "Load generator for POP3 servers, and a trivial in-memory POP3 responder.",
        discussion: """
            Each workload prints a line of results; --json FILE also appends them as JSON lines.
            Every load is bounded in time (--duration) and in count.
            """,
        subcommands: [
            SessionsCommand.self, RetrCommand.self, IdleCommand.self, NoopCommand.self, LoginCommand.self,
            ResponderCommand.self,
        ]
    )
}

/// Why a workload ended without a result.
struct WorkloadFailure: Error, CustomStringConvertible {
    var description: String
}
