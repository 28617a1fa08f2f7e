// swift-tools-version: 6.1
// PostOffice: a POP3 mail system — server, fetch client and offline mailbox in one binary.

import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "PostOffice",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "postoffice", targets: ["postoffice"]),
        // The parsers of untrusted input, for the fuzz package in Fuzzing/ (docs/RELIABILITY.md).
        .library(
            name: "PostOfficeParsers",
            targets: ["MailCore", "POP3Core", "SASL", "Accounts", "MailStore", "LMTPCore", "Mailbox", "FileFormats"]
        ),
        // The load generator and in-memory responder of Benchmarks/compare.sh.
        .executable(name: "postoffice-bench", targets: ["postoffice-bench"]),
        // For the micro-benchmarks package in Benchmarks/, which depends on this one by path.
        .library(name: "POP3Core", targets: ["POP3Core"]),
        .library(name: "MailStore", targets: ["MailStore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-system.git", from: "1.8.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
        // The PostgreSQL store for several server nodes (its own target: Maildir-only parts do not link it).
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
    ],
    targets: [
        // libxcrypt's crypt_r / crypt_gensalt_rn (TOOLCHAIN.md, "Passwords").
        .systemLibrary(name: "CCrypt", path: "Sources/CCrypt"),

        // The vocabulary every module shares (base64, user names, unique-ids), with no dependencies.
        .target(name: "MailCore", swiftSettings: swiftSettings),
        .target(
            name: "POP3Core",
            dependencies: ["MailCore", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SASL",
            dependencies: [
                "MailCore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Accounts",
            dependencies: [
                "MailCore",
                "SASL", "CCrypt", "FileIO",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: swiftSettings
        ),
        // The one POSIX layer and the one way to run blocking work (NIO's thread pool).
        // glibc calls Swift's Glibc module leaves out (close-on-exec pipes, closefrom in a child).
        .target(name: "CFileIO"),
        .target(
            name: "FileIO",
            dependencies: [
                "CFileIO",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "MailStore",
            dependencies: [
                "FileIO", "MailCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        // The server's metrics (swift-metrics): every metric name in one file, one value the
        // POP3 and LMTP listeners (and the abuse controls) record through.
        .target(
            name: "ServerMetrics",
            dependencies: [.product(name: "CoreMetrics", package: "swift-metrics")],
            swiftSettings: swiftSettings
        ),
        // HAProxy's PROXY protocol v1/v2: the pure header decoder and CIDR networks.
        .target(
            name: "ProxyProtocol",
            dependencies: [.product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
        // Mailboxes, the maildrop lease and accounts in PostgreSQL, for several `serve` nodes.
        .target(
            name: "PostgresStore",
            dependencies: [
                "MailCore", "MailStore", "Accounts", "SASL", "FileIO",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "POP3Server",
            dependencies: [
                "MailCore",
                "POP3Core", "SASL", "Accounts", "MailStore", "ServerMetrics", "ProxyProtocol", "FileIO",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: swiftSettings
        ),
        // LMTP (RFC 2033): the pure session and codec.
        .target(
            name: "LMTPCore",
            dependencies: [
                // Line framing and dot-unstuffing are POP3Core's, shared rather than copied.
                "POP3Core",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // The LMTP listener that delivers into the store.
        .target(
            name: "LMTPServer",
            dependencies: [
                "LMTPCore", "Accounts", "MailStore", "FileIO", "ServerMetrics",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "POP3Client",
            dependencies: [
                "MailCore", "POP3Core", "SASL",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOTLS", package: "swift-nio"),
                // Certificate checks with a reason a person can act on (wrong name, self-signed, pin).
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Fetch",
            dependencies: [
                "POP3Client", "SASL", "MailCore", "MailStore", "FileIO", "FileFormats",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // Finding the POP3 server of an e-mail address (RFC 6186 SRV, autoconfig, probing) for
        // `postoffice account add`; a small DNS client and an HTTPS GET on NIO.
        .target(
            name: "Discovery",
            dependencies: [
                "POP3Client", "FileIO",
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // Text files written by people and other programs: the TOML configuration reader and the
        // state files of other POP3 clients (`--import-state`). Pure parsing, no I/O.
        .target(name: "FileFormats", dependencies: ["MailCore"], swiftSettings: swiftSettings),
        .target(
            name: "Mailbox",
            dependencies: [
                "FileIO", "MailStore",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "postoffice",
            dependencies: [
                "POP3Core", "SASL", "Accounts", "MailStore", "POP3Server", "POP3Client", "Fetch", "Mailbox",
                "LMTPServer", "Discovery", "FileIO", "ServerMetrics", "FileFormats", "ProxyProtocol", "PostgresStore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: swiftSettings
        ),
        // The benchmark harness (docs/BENCHMARKS.md): a load generator for any POP3 server and a
        // trivial in-memory responder. It shares no code with the server it measures.
        .executableTarget(
            name: "postoffice-bench",
            dependencies: [
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: swiftSettings
        ),

        // Tests mirror the targets one to one (DESIGN.md).
        .target(
            name: "TestTiming",
            dependencies: [.product(name: "NIOCore", package: "swift-nio")],
            path: "Tests/TestTiming",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "POP3TestSupport",
            dependencies: [
                "MailCore", "MailStore", "Accounts", "SASL", "TestTiming",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Tests/POP3TestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "POP3CoreTests",
            dependencies: [
                "MailCore",
                "POP3Core", "POP3TestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "SASLTests", dependencies: ["SASL", "MailCore"], swiftSettings: swiftSettings),
        .testTarget(name: "MailCoreTests", dependencies: ["MailCore"], swiftSettings: swiftSettings),
        .testTarget(
            name: "FileIOTests",
            dependencies: [
                "FileIO",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "AccountsTests",
            dependencies: [
                "Accounts", "SASL", .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "MailStoreTests",
            dependencies: [
                "MailCore", "MailStore", "FileIO", "TestTiming",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ServerMetricsTests",
            dependencies: [
                "ServerMetrics",
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "POP3ServerTests",
            dependencies: [
                "TestTiming", "MailCore",
                "POP3Server", "POP3Core", "Accounts", "MailStore", "SASL", "POP3TestSupport", "ServerMetrics",
                "ProxyProtocol",
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ProxyProtocolTests",
            dependencies: [
                "ProxyProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "LMTPCoreTests",
            dependencies: [
                "LMTPCore", "POP3TestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "LMTPServerTests",
            dependencies: [
                "LMTPServer", "LMTPCore", "Accounts", "MailStore", "POP3TestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "POP3ClientTests",
            dependencies: [
                "TestTiming", "MailCore",
                "POP3Client", "POP3Core", "SASL", "POP3TestSupport", .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                // A test CA and server certificates generated at test time.
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "FetchTests",
            dependencies: [
                "Fetch", "MailCore", "POP3Client", "FileIO", "FileFormats", "TestTiming",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycleTestKit", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "DiscoveryTests",
            dependencies: [
                "TestTiming", "Discovery", "POP3Client", "POP3Server", "POP3TestSupport",
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "FileFormatsTests", dependencies: ["FileFormats"], swiftSettings: swiftSettings),
        .testTarget(
            name: "PostgresStoreTests",
            dependencies: [
                "MailCore", "PostgresStore", "MailStore", "Accounts", "FileIO", "TestTiming",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "MailboxTests",
            dependencies: [
                "Mailbox", "MailStore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "postoffice-benchTests",
            dependencies: [
                "postoffice-bench",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "postofficeTests",
            dependencies: [
                "postoffice", "ServerMetrics", "FileFormats", "POP3Server", "ProxyProtocol", "Accounts",
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
