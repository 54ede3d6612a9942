// swift-tools-version: 6.2
// The allocation gate and micro-benchmarks: a package of its own (as swift-nio does), so a
// plain build of the product never builds the benchmark tooling or links its malloc
// interposer. Run through `Tools/alloc-gate`.
import Foundation
import PackageDescription

// The root package's identity is its folder name, which differs between clones.
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().lastPathComponent

let benchmarkDependencies: [Target.Dependency] = [.product(name: "Benchmark", package: "benchmark"), "BenchmarkGate"]
let benchmarkPlugins: [Target.PluginUsage] = [.plugin(name: "BenchmarkPlugin", package: "benchmark")]

let package = Package(
    name: "TicklineBenchmarks",
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        // The one configuration of the gated benchmarks.
        .target(name: "BenchmarkGate", dependencies: [.product(name: "Benchmark", package: "benchmark")], path: "BenchmarkGate"),
        .executableTarget(
            name: "RingBenchmarks",
            dependencies: benchmarkDependencies + [
                .product(name: "TicklineRing", package: root), .product(name: "TicklineCore", package: root),
            ],
            path: "Benchmarks/RingBenchmarks",
            plugins: benchmarkPlugins),
        .executableTarget(
            name: "IndicatorBenchmarks",
            dependencies: benchmarkDependencies + [.product(name: "TicklineIndicators", package: root)],
            path: "Benchmarks/IndicatorBenchmarks",
            plugins: benchmarkPlugins),
        .executableTarget(
            name: "StrategyBenchmarks",
            dependencies: benchmarkDependencies + [
                .product(name: "TicklineEngine", package: root), .product(name: "TicklineStrategy", package: root),
                .product(name: "TicklineRing", package: root), .product(name: "TicklineCore", package: root),
                .product(name: "TicklineIndicators", package: root),
            ],
            path: "Benchmarks/StrategyBenchmarks",
            plugins: benchmarkPlugins),
        .executableTarget(
            name: "DecodeBenchmarks",
            dependencies: benchmarkDependencies + [
                .product(name: "TicklineMarketData", package: root), .product(name: "TicklineFeed", package: root),
                .product(name: "TicklineCore", package: root),
            ],
            path: "Benchmarks/DecodeBenchmarks",
            plugins: benchmarkPlugins),
        .executableTarget(
            name: "RiskBenchmarks",
            dependencies: benchmarkDependencies + [
                .product(name: "TicklineRisk", package: root), .product(name: "TicklineExecution", package: root),
                .product(name: "TicklineCore", package: root),
            ],
            path: "Benchmarks/RiskBenchmarks",
            plugins: benchmarkPlugins),
        .executableTarget(
            name: "RiskStageBenchmarks",
            dependencies: benchmarkDependencies + [
                .product(name: "TicklineEngine", package: root), .product(name: "TicklineRing", package: root),
                .product(name: "TicklineRisk", package: root), .product(name: "TicklineCore", package: root),
            ],
            path: "Benchmarks/RiskStageBenchmarks",
            plugins: benchmarkPlugins),
        .executableTarget(
            name: "NetBenchmarks",
            dependencies: benchmarkDependencies + [
                .product(name: "TicklineNet", package: root), .product(name: "TicklineWebSocket", package: root),
                .product(name: "TicklineCore", package: root),
            ],
            path: "Benchmarks/NetBenchmarks",
            plugins: benchmarkPlugins),
        .executableTarget(
            name: "EngineBenchmarks",
            dependencies: benchmarkDependencies + [
                .product(name: "TicklineEngine", package: root), .product(name: "TicklineConfig", package: root),
                .product(name: "TicklineMarketData", package: root), .product(name: "TicklineFeed", package: root),
                .product(name: "TicklineRisk", package: root), .product(name: "TicklineCore", package: root),
            ],
            path: "Benchmarks/EngineBenchmarks",
            plugins: benchmarkPlugins),
    ],
    swiftLanguageModes: [.v6]
)
