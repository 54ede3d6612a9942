#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import TicklineCore
@testable import TicklineFeed
import TicklineMarketData
import TicklineNet
import TicklineTestSupport
import TicklineWebSocket

/// `Servers/scripted_venue.py` (Python `websockets` + `http.server`) as a child process.
final class ScriptedVenue {
    static let script = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
        .deletingLastPathComponent().appendingPathComponent("Servers/scripted_venue.py")
    static var python: String? { PythonPeer.python }
    static var isRequired: Bool { ProcessInfo.processInfo.environment["TICKLINE_REQUIRE_REFERENCES"] == "1" }

    let peer: PythonPeer
    var wsPort: UInt16 { peer.ports[0] }
    var httpPort: UInt16 { peer.ports[1] }

    /// - Parameter tls: serve the WebSocket over TLS with this authority's certificate.
    init(tls: TestCertificateAuthority? = nil) throws {
        peer = try PythonPeer(script: Self.script.path, arguments: { ["\($0)/log"] + (tls.map { [$0.certificate, $0.key] } ?? []) },
                              portCount: 2)
    }

    var log: [String] { ((try? String(contentsOfFile: "\(peer.folder)/log", encoding: .utf8)) ?? "").split(separator: "\n").map(String.init) }
}

@Suite(.serialized, .enabled(if: ScriptedVenue.python != nil || ScriptedVenue.isRequired,
                             "Python websockets venue skipped: set TICKLINE_PYTHON or create <root>/.venv"))
struct ScriptedVenueTests {
    @Test func reconnectsAtOnceOnServerShutdownAndRetriesFailedSnapshots() throws {
        let venue = try ScriptedVenue()
        var config = FeedConfig()
        config.name = "scripted"
        config.streamAddress = "127.0.0.1:\(venue.wsPort)"
        config.restBase = "http://127.0.0.1:\(venue.httpPort)"
        config.symbols = ["BTCUSDT"]
        config.streams = ["trade", "depth@100ms"]
        config.backoffInitialMs = 2_000  // a backoff would be visible: serverShutdown must not wait for it
        config.snapshotRetryInitialMs = 20
        config.snapshotRetryMaxMs = 200
        let table = try InstrumentTable([InstrumentSpec(symbol: "BTCUSDT", id: 7, priceDecimals: 8, quantityDecimals: 8)])
        let harness = try FeedHarness(config: config, instruments: table)
        let book = try #require(harness.agent.book("BTCUSDT"))
        // First sync: a 500, then a truncated body, then a good snapshot (each retried with backoff).
        let synced = harness.run(seconds: 15) { _ in book.state == .synced }
        #expect(synced, "\(harness.counters)")
        #expect(harness.counters.snapshotFailures(.httpError) == 1)
        #expect(harness.counters.snapshotsMalformed == 1)
        // Then the venue announces a shutdown: closed with 1001 and reopened without backoff, resubscribed, resynced.
        let back = harness.run(seconds: 15) {
            $0.counters.serverShutdowns == 1 && $0.counters.opened >= 2 && $0.counters.snapshotsSynced >= 2 && book.state == .synced
        }
        #expect(back, "\(harness.counters)")
        #expect(harness.agent.connections[0].attempts == 0)
        #expect(harness.counters.proactiveReconnects == 0)
        #expect(harness.agent.connections[0].lastCloseCode == .goingAway)
        // Events flow again on the new connection, and the book follows the diffs.
        let applied = book.counters.appliedDiffs
        #expect(harness.run(seconds: 10) { _ in book.counters.appliedDiffs > applied + 5 })
        #expect(book.bids.best?.price == Price(units: 100_00000000))
        #expect(harness.events(of: 7, kind: .trade) > 5)
        harness.run(seconds: 0.2)
        let log = venue.log
        #expect(log.contains("closed 1 1001"), "\(log)")
        #expect(log.contains("subscribe 2 btcusdt@depth@100ms btcusdt@trade"), "\(log)")
        #expect(log.filter { $0.hasPrefix("http ") }.count >= 4)
    }

    /// The venue's feed shape over TLS: trusting the test CA, the book syncs and trades
    /// arrive; trusting the system store, every attempt fails with the reason and backs off.
    @Test(.enabled(if: TestCertificateAuthority.openssl != nil || ScriptedVenue.isRequired, "openssl is not installed (Tools/setup)"))
    func readsTheStreamOverTLSAndRefusesAnUntrustedCertificate() throws {
        let ca = try TestCertificateAuthority()
        defer { ca.remove() }
        let venue = try ScriptedVenue(tls: ca)
        var config = FeedConfig()
        config.name = "secure"
        config.streamAddress = "127.0.0.1:\(venue.wsPort)"
        config.restBase = "http://127.0.0.1:\(venue.httpPort)"
        config.tls = FeedTLS(caFile: ca.caFile, serverName: "localhost")
        config.symbols = ["BTCUSDT"]
        config.streams = ["trade", "depth@100ms"]
        config.snapshotRetryInitialMs = 20
        let table = try InstrumentTable([InstrumentSpec(symbol: "BTCUSDT", id: 7, priceDecimals: 8, quantityDecimals: 8)])
        let harness = try FeedHarness(config: config, instruments: table)
        let book = try #require(harness.agent.book("BTCUSDT"))
        #expect(harness.run(seconds: 15) { $0.events(of: 7, kind: .trade) > 5 && book.state == .synced }, "\(harness.counters)")
        let tls = try #require(harness.agent.connections[0].socket.transport.base as? TLSTransport)
        #expect(tls.handshakes >= 1 && tls.protocolVersion == "TLSv1.3", "\(tls.handshakes) \(tls.protocolVersion)")
        #expect(venue.log.contains("subscribe 1 btcusdt@depth@100ms btcusdt@trade"), "\(venue.log)")

        config.name = "untrusted"
        config.tls = FeedTLS(serverName: "localhost")
        config.backoffInitialMs = 50
        let refused = try FeedHarness(config: config, instruments: table)
        #expect(refused.run(seconds: 15) { $0.counters.connectFailures >= 2 }, "\(refused.counters)")
        #expect(refused.counters.opened == 0 && refused.events(of: 7, kind: .trade) == 0)
        let failure = refused.agent.connections[0].lastFailure
        #expect(failure.map { "\($0)".contains("certificate verify failed") && "\($0)".contains("the system CA store") } == true,
                "\(String(describing: failure))")
    }
}
