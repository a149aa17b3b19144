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
        .library(name: "MagpieZoo", targets: ["MagpieZoo"]),
        .library(name: "MagpieBench", targets: ["MagpieBench"]),
        .executable(name: "magpie", targets: ["magpie"]),
        .executable(name: "magpie-fuzz", targets: ["MagpieFuzz"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
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
        .target(name: "MagpieZoo", dependencies: ["MagpieModel", "MagpieEngine"]),
        .target(name: "MagpieBench", dependencies: ["MagpieEngine", "MagpieModel"]),
        .executableTarget(name: "magpie", dependencies: [
            "MagpieModel", "MagpieEngine", "MagpieVision", "MagpieBench", "MagpieZoo",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "MagpieFuzz", dependencies: ["MagpieModel", "MagpieEngine"]),
        .target(name: "MagpieTestSupport", dependencies: ["MagpieModel", "MagpieEngine"]),
        .testTarget(name: "MagpieModelTests", dependencies: ["MagpieModel", "MagpieTestSupport"]),
        .testTarget(name: "MagpieEngineTests", dependencies: ["MagpieEngine", "MagpieModel", "MagpieTestSupport"]),
        .testTarget(name: "MagpieBenchTests", dependencies: ["MagpieBench", "MagpieEngine", "MagpieModel", "MagpieTestSupport"]),
        .testTarget(name: "MagpieVisionTests", dependencies: ["MagpieVision", "MagpieEngine", "MagpieModel", "MagpieTestSupport"]),
        .testTarget(name: "MagpieZooTests", dependencies: ["MagpieZoo", "MagpieEngine", "MagpieModel", "MagpieTestSupport"]),
    ]
)
