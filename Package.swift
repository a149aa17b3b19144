// swift-tools-version: 6.0
import PackageDescription

/// Release builds of the numeric code want the host's SIMD units: the README's build passes
/// `-Xswiftc -target-cpu -Xswiftc native`; leave it out for a portable binary.
let package = Package(
    name: "Magpie",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "MagpieModel", targets: ["MagpieModel"]),
        .library(name: "MagpieEngine", targets: ["MagpieEngine"]),
        .library(name: "MagpieVision", targets: ["MagpieVision"]),
        .library(name: "MagpieBench", targets: ["MagpieBench"]),
        .library(name: "MagpieHub", targets: ["MagpieHub"]),
        .executable(name: "magpie", targets: ["magpie"]),
        .executable(name: "magpie-fuzz", targets: ["MagpieFuzz"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth", from: "2.5.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
    ],
    targets: [
        .systemLibrary(name: "CJPEG", path: "Sources/CJPEG", pkgConfig: "libjpeg",
                       providers: [.apt(["libjpeg62-turbo-dev"]), .brew(["jpeg-turbo"])]),
        .systemLibrary(name: "CPNG", path: "Sources/CPNG", pkgConfig: "libpng",
                       providers: [.apt(["libpng-dev"]), .brew(["libpng"])]),
        // setjmp/longjmp error handling for libjpeg and libpng has to live in C (Swift cannot longjmp).
        .target(name: "CMagpieImage", dependencies: ["CJPEG", "CPNG"]),
        .target(name: "MagpieModel"),
        .target(name: "MagpieEngine", dependencies: ["MagpieModel"]),
        .target(name: "MagpieVision", dependencies: ["MagpieEngine", "MagpieModel", "CMagpieImage"]),
        .target(name: "MagpieHub", dependencies: [
            "MagpieModel", "MagpieEngine",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdCore", package: "hummingbird"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "MagpieBench", dependencies: ["MagpieEngine", "MagpieModel"]),
        .executableTarget(name: "magpie", dependencies: [
            "MagpieModel", "MagpieEngine", "MagpieVision", "MagpieBench", "MagpieHub",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "Hummingbird", package: "hummingbird"),
        ]),
        .executableTarget(name: "MagpieFuzz", dependencies: ["MagpieModel", "MagpieEngine"]),
        .target(name: "MagpieTestSupport", dependencies: ["MagpieModel", "MagpieEngine"]),
        .testTarget(name: "MagpieModelTests", dependencies: ["MagpieModel", "MagpieTestSupport"]),
        .testTarget(name: "MagpieEngineTests", dependencies: ["MagpieEngine", "MagpieModel", "MagpieTestSupport"]),
        .testTarget(name: "MagpieHubTests", dependencies: [
            "MagpieHub", "MagpieModel", "MagpieTestSupport",
            .product(name: "HummingbirdTesting", package: "hummingbird"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Yams", package: "Yams"),
        ]),
        .testTarget(name: "MagpieBenchTests", dependencies: ["MagpieBench", "MagpieEngine", "MagpieModel", "MagpieTestSupport"]),
        .testTarget(name: "MagpieVisionTests", dependencies: ["MagpieVision", "MagpieEngine", "MagpieModel", "MagpieTestSupport"]),
    ]
)
