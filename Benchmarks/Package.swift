// swift-tools-version: 6.1
// Micro-benchmarks of PostOffice's hot paths with ordo-one/benchmark (docs/BENCHMARKS.md).
// A package of its own, depending on PostOffice by path, so the main build does not pay for it.
// Run: Benchmarks/micro.sh (or `swift package --package-path Benchmarks benchmark`).

import PackageDescription

import struct Foundation.URL

// A package depended on by path is named after its directory, whatever a clone is called.
let postOffice = URL(fileURLWithPath: Context.packageDirectory).deletingLastPathComponent().lastPathComponent

let package = Package(
    name: "PostOfficeBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: ".."),
        // Without the trait it asks for a package that is not available here (TOOLCHAIN.md).
        .package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
    ],
    targets: [
        .executableTarget(
            name: "POP3Micro",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "POP3Core", package: postOffice),
                .product(name: "MailStore", package: postOffice),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Benchmarks/POP3Micro",
            plugins: [
                .plugin(name: "BenchmarkPlugin", package: "benchmark")
            ]
        )
    ]
)
