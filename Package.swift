// swift-tools-version: 6.2
import PackageDescription

// Pure modules do no I/O and import no C shim; strict memory safety is an error there.
let pureModuleSettings: [SwiftSetting] = [
    .strictMemorySafety(),
    .treatWarning("StrictMemorySafety", as: .error),
]

let package = Package(
    name: "Tickline",
    products: [
        .executable(name: "tickline", targets: ["tickline"]),
        .executable(name: "tickline-writer", targets: ["tickline-writer"]),
        .executable(name: "tickline-feed", targets: ["tickline-feed"]),
        .library(name: "TicklineCore", targets: ["TicklineCore"]),
        .library(name: "TicklineRing", targets: ["TicklineRing"]),
        .library(name: "TicklineRuntime", targets: ["TicklineRuntime"]),
        .library(name: "TicklineIndicators", targets: ["TicklineIndicators"]),
        .library(name: "TicklineStrategy", targets: ["TicklineStrategy"]),
        .library(name: "TicklineEngine", targets: ["TicklineEngine"]),
        .library(name: "TicklineFeed", targets: ["TicklineFeed"]),
        .library(name: "TicklineRisk", targets: ["TicklineRisk"]),
        .library(name: "TicklineMarketData", targets: ["TicklineMarketData"]),
        .library(name: "TicklineExecution", targets: ["TicklineExecution"]),
        .library(name: "TicklineWebSocket", targets: ["TicklineWebSocket"]),
        .library(name: "TicklineNet", targets: ["TicklineNet"]),
        .library(name: "TicklineConfig", targets: ["TicklineConfig"]),
    ],
    traits: [
        // Off by default: the product never links an allocation counter.
        .trait(
            name: "AllocationCounter",
            description: "Links a counting malloc into `tickline` so `tickline bench decode` reports allocations per message (benchmark builds only)."),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-atomics", from: "1.3.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
    ],
    targets: [
        // System libraries, each imported only by the modules that need it.
        .systemLibrary(name: "CURing", pkgConfig: "liburing", providers: [.apt(["liburing-dev"])]),
        .systemLibrary(name: "CNuma", providers: [.apt(["libnuma-dev"])]),
        .systemLibrary(name: "CHiredis", pkgConfig: "hiredis", providers: [.apt(["libhiredis-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        // Small C helpers Swift cannot express (CPU_SET, signal handlers, shm atomics).
        .target(name: "CTicklineLinux"),
        // Counting malloc/calloc/realloc/memalign family (benchmark builds only: see the AllocationCounter trait).
        .target(name: "CTicklineAllocationCounter"),

        // Plain data: clocks, fixed point, event layouts. No I/O.
        .target(name: "TicklineCore", swiftSettings: pureModuleSettings),
        // Shared-memory region and SPSC rings (the unsafe code lives here).
        .target(
            name: "TicklineRing",
            dependencies: [
                "TicklineCore", "CTicklineLinux", "CNuma",
                .product(name: "Atomics", package: "swift-atomics"),
            ]),
        // Agents, runners, idle strategies, pinning, shutdown.
        .target(
            name: "TicklineRuntime",
            dependencies: ["TicklineCore", "CTicklineLinux", .product(name: "Atomics", package: "swift-atomics")]),
        // Config file -> immutable values (cold path).
        .target(
            name: "TicklineConfig",
            dependencies: [
                "TicklineCore", "TicklineRuntime", "TicklineRing", "TicklineStrategy", "TicklineRisk", "TicklineExecution",
                "TicklineFeed", "Yams",
            ]),
        // Incremental indicators (pure).
        // `Double.squareRoot()` leaves a reference to libm's sqrt for programs that import neither Foundation nor Glibc.
        .target(name: "TicklineIndicators", swiftSettings: pureModuleSettings, linkerSettings: [.linkedLibrary("m")]),
        // Bars, strategies, the weighted vote (pure).
        .target(name: "TicklineStrategy", dependencies: ["TicklineCore", "TicklineIndicators"], swiftSettings: pureModuleSettings),
        // Pre-trade checks, positions and PnL, circuit breakers (pure).
        .target(name: "TicklineRisk", dependencies: ["TicklineCore"], swiftSettings: pureModuleSettings),
        // Venue message decoders (Binance JSON, Kite binary), instrument table, L2 books (pure).
        .target(name: "TicklineMarketData", dependencies: ["TicklineCore"], swiftSettings: pureModuleSettings),
        // Order state machine, paper venue, post-trade exits (pure).
        .target(name: "TicklineExecution", dependencies: ["TicklineCore", "TicklineRisk"], swiftSettings: pureModuleSettings),
        // RFC 6455 framing and the opening handshake, with no I/O: the seam where TLS will go (pure).
        .target(name: "TicklineWebSocket", dependencies: ["TicklineCore"], swiftSettings: pureModuleSettings),
        // Sockets on io_uring (with a fallback) and TLS over them (OpenSSL), carrying WebSocket connections.
        .target(name: "TicklineNet", dependencies: ["TicklineCore", "TicklineWebSocket", "CURing", "CTicklineLinux", "CSSL"]),
        // Feed stage: WebSocket connections per venue, REST depth snapshots (libcurl, off the
        // hot path), reconnects, stale watchdog; decodes into the market and depth rings.
        .target(
            name: "TicklineFeed",
            dependencies: [
                "TicklineCore", "TicklineRing", "TicklineRuntime", "TicklineMarketData", "TicklineWebSocket",
                "TicklineNet", "CCurl", "CTicklineLinux",
            ]),
        // The hot-path agents and their wiring from the config.
        .target(
            name: "TicklineEngine",
            dependencies: [
                "TicklineCore", "TicklineRing", "TicklineRuntime", "TicklineStrategy", "TicklineConfig", "TicklineRisk",
                "TicklineExecution", "TicklineMarketData", "TicklineFeed", "TicklineControl", "CTicklineLinux",
            ]),
        // HTTP control plane: API, Prometheus metrics, dashboard. Ordinary threads (SwiftNIO via
        // Hummingbird), never the pinned ones; reaches the hot path only through the control ring.
        .target(
            name: "TicklineControl",
            dependencies: [
                "TicklineCore", "TicklineConfig", "TicklineRuntime", "CTicklineLinux",
                .product(name: "Hummingbird", package: "hummingbird"),
            ]),
        // Host probe behind `tickline doctor`.
        .target(name: "TicklineDoctor", dependencies: ["CURing", "CNuma"]),
        // Benchmarks the product ships (`tickline bench ...`); no allocation counter linked.
        .target(
            name: "TicklineBench",
            dependencies: [
                "TicklineCore", "TicklineRing", "TicklineRuntime",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]),
        // Drains journal rings into InfluxDB (libcurl) and Redis (hiredis): the only importer of CHiredis.
        .target(
            name: "TicklineWriter",
            dependencies: ["TicklineCore", "TicklineRing", "TicklineRuntime", "TicklineConfig", "CTicklineLinux", "CCurl", "CHiredis"],
            exclude: ["README.md"],
            linkerSettings: [.linkedLibrary("z")]),
        .executableTarget(
            name: "tickline-writer",
            dependencies: [
                "TicklineWriter", "TicklineConfig", "TicklineRing", "TicklineCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        // WebSocket replay server for tests, the demo and the benchmarks (a tool, not the product).
        .executableTarget(
            name: "tickline-feed",
            dependencies: [
                "TicklineCore", "TicklineWebSocket", "TicklineMarketData", "CTicklineLinux",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Tools/tickline-feed"),
        .executableTarget(
            name: "tickline",
            dependencies: [
                "TicklineCore", "TicklineRing", "TicklineRuntime", "TicklineConfig",
                "TicklineIndicators", "TicklineDoctor", "TicklineBench", "TicklineMarketData", "TicklineFeed", "TicklineEngine",
                "TicklineRisk", "TicklineControl",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .target(name: "CTicklineAllocationCounter", condition: .when(traits: ["AllocationCounter"])),
            ]),

        // Helpers shared by the test targets (seeded random numbers).
        .target(name: "TicklineTestSupport", path: "Tests/TicklineTestSupport"),
        .testTarget(name: "TicklineCoreTests", dependencies: ["TicklineCore"]),
        .testTarget(name: "TicklineRingTests", dependencies: ["TicklineRing", "TicklineCore"]),
        .testTarget(name: "TicklineRuntimeTests", dependencies: ["TicklineRuntime", "TicklineCore"]),
        .testTarget(name: "TicklineConfigTests", dependencies: ["TicklineConfig"]),
        .testTarget(name: "TicklineIndicatorsTests", dependencies: ["TicklineIndicators", "TicklineTestSupport"], exclude: ["Reference"]),
        .testTarget(name: "TicklineDoctorTests", dependencies: ["TicklineDoctor"]),
        .testTarget(name: "TicklineControlTests", dependencies: ["TicklineControl", "TicklineConfig", "TicklineCore", "TicklineRuntime", "TicklineTestSupport"]),
        .testTarget(
            name: "TicklineMarketDataTests",
            dependencies: ["TicklineMarketData", "TicklineCore", "TicklineTestSupport", "CTicklineAllocationCounter"]),
        .testTarget(
            name: "TicklineFeedTests",
            dependencies: ["TicklineFeed", "TicklineMarketData", "TicklineRing", "TicklineCore", "TicklineTestSupport", "tickline-feed"],
            exclude: ["Servers"]),
        .testTarget(name: "TicklineExecutionTests", dependencies: ["TicklineExecution", "TicklineRisk", "TicklineCore", "TicklineFeed", "TicklineTestSupport"]),
        .testTarget(
            name: "TicklineWebSocketTests",
            dependencies: ["TicklineWebSocket", "TicklineNet", "TicklineCore", "TicklineTestSupport"],
            exclude: ["reference_server.py", "tls_server.py", "raw_ping_server.py"]),
        .testTarget(name: "TicklineRiskTests", dependencies: ["TicklineRisk", "TicklineCore", "TicklineTestSupport"]),
        .testTarget(
            name: "TicklineStrategyTests",
            dependencies: ["TicklineStrategy", "TicklineConfig", "TicklineIndicators", "TicklineCore", "TicklineFeed", "TicklineTestSupport"]),
        .testTarget(
            name: "TicklineEngineTests",
            dependencies: [
                "TicklineEngine", "TicklineStrategy", "TicklineConfig", "TicklineRing", "TicklineRuntime", "TicklineCore",
                "TicklineExecution", "TicklineRisk", "TicklineControl", "TicklineFeed", "TicklineMarketData", "TicklineTestSupport",
                "tickline-writer",  // built for the supervision tests, which start it
                "tickline-engine-peer",  // the process the restart-recovery test kills
                "tickline", "tickline-feed",  // `tickline run` against the replay server
            ],
            exclude: ["Fixtures"]),  // failing_fs.py: the FUSE file system of the journal's EIO test
        .executableTarget(
            name: "tickline-engine-peer",
            dependencies: ["TicklineEngine", "TicklineRing", "TicklineCore", "TicklineConfig", "TicklineExecution", "TicklineRisk"],
            path: "Tests/TicklineEnginePeer"),
        // Two-process ring tests: the peer process they spawn, and the tests.
        .executableTarget(name: "tickline-ring-peer", dependencies: ["TicklineRing", "TicklineCore"], path: "Tests/TicklineRingPeer"),
        .testTarget(name: "TicklineProcessTests", dependencies: ["TicklineRing", "TicklineCore", "tickline-ring-peer"]),
        // tickline-feed checked from outside: Python websockets clients and plain HTTP.
        .testTarget(name: "TicklineFeedToolTests", dependencies: ["TicklineCore", "TicklineTestSupport", "tickline-feed"], exclude: ["Clients"]),
        // Writer tests against real redis-server and influxd they start themselves, plus a producer peer.
        .executableTarget(name: "tickline-writer-peer", dependencies: ["TicklineRing", "TicklineCore"], path: "Tests/TicklineWriterPeer"),
        .testTarget(
            name: "TicklineWriterTests",
            dependencies: ["TicklineWriter", "TicklineConfig", "TicklineRing", "TicklineCore", "TicklineTestSupport", "tickline-writer",
                           "tickline-writer-peer", "TicklineEngine"],
            exclude: ["Fixtures"]),
    ],
    swiftLanguageModes: [.v6]
)
