// swift-tools-version:5.4
// PostOffice's libFuzzer harnesses, one binary for every target (docs/RELIABILITY.md, "Fuzzing").
//
// A package of its own so the main build never sees fuzzer flags. Tools version 5.4 on purpose:
// from 5.5 on SwiftPM renames an executable's `main`, and libFuzzer must supply `main` itself.
// Build and run it with `scripts/fuzz`, which passes `-sanitize=fuzzer,address`.

import PackageDescription

let package = Package(
    name: "PostOfficeFuzz",
    dependencies: [
        .package(name: "PostOffice", path: ".."),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
    ],
    targets: [
        .executableTarget(
            name: "PostOfficeFuzz",
            dependencies: [
                .product(name: "PostOfficeParsers", package: "PostOffice"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        )
    ]
)
