#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import TicklineCore
import TicklineNet
import TicklineTestSupport
import TicklineWebSocket

/// `tls_server.py` (Python `websockets` over `ssl`) with a throwaway CA made at test time:
/// one port serving a valid certificate for localhost and 127.0.0.1, one an expired one.
final class TLSReferenceServer {
    let ca: TestCertificateAuthority
    let peer: PythonPeer
    var port: UInt16 { peer.ports[0] }
    var expiredPort: UInt16 { peer.ports[1] }

    init() throws {
        let ca = try TestCertificateAuthority()
        self.ca = ca
        let script = ReferenceServer.script.deletingLastPathComponent().appendingPathComponent("tls_server.py").path
        do {
            peer = try PythonPeer(script: script, arguments: { ["\($0)/log", ca.certificate, ca.key, ca.expiredCertificate, ca.expiredKey] },
                                  portCount: 2)
        } catch {
            ca.remove()
            throw error
        }
    }

    deinit { ca.remove() }

    /// The server's handshakes so far: (port, protocol, resumed).
    var handshakes: [(port: UInt16, version: String, resumed: Bool)] {
        ((try? String(contentsOfFile: "\(peer.folder)/log", encoding: .utf8)) ?? "").split(separator: "\n").compactMap { line in
            let f = line.split(separator: " ")
            guard f.count == 3, let p = UInt16(f[0]) else { return nil }
            return (p, String(f[1]), f[2] == "True")
        }
    }
}

@Suite(.serialized, .needsPythonWebsockets)
struct TLSTransportTests {
    static let backend = NetBackend.detect().backend

    /// A WebSocket over TLS over TCP (the host's backend) to `port`, trusting `caFile`
    /// (nil: the system store) and checking `serverName`; driven until open or closed.
    func open(port: UInt16, path: String, serverName: String = "localhost", caFile: String?)
        throws -> (WebSocketConnection<TLSTransport>, Collector)
    {
        let tls = TLSTransport(inner: try TCPTransport(backend: Self.backend), context: try TLSContext(TLSOptions(serverName: serverName, caFile: caFile)))
        let connection = WebSocketConnection(transport: tls)
        try connection.connect(to: SocketAddress(host: "127.0.0.1", port: port), path: path)
        var collector = Collector()
        _ = drive(connection, &collector) { $0.events.contains(.opened) || $0.isClosed }
        return (connection, collector)
    }

    /// Why the connection failed: the transport's words, as its events carry them.
    func failure(_ c: Collector) -> String {
        for e in c.events {
            switch e {
            case .failed(.connect(let error)), .failed(.transport(let error)): return error.description
            case .failed(let other): return "\(other)"
            default: continue
            }
        }
        return "no failure: \(c.events)"
    }

    @Test func echoesSmallAndLargeMessagesOverTLS13TrustingTheTestCA() throws {
        let server = try TLSReferenceServer()
        var (connection, collector) = try open(port: server.port, path: "/echo", caFile: server.ca.caFile)
        #expect(collector.events.first == .opened, "\(collector.events)")
        #expect(connection.transport.protocolVersion == "TLSv1.3" && connection.transport.handshakes == 1)
        let large = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        #expect(connection.sendText(Array("hello over tls".utf8).span) == .queued)
        var sent = SendOutcome.bufferFull
        // A megabyte is more than the TLS send buffer holds at once: it goes once the text has left.
        for _ in 0..<10_000 where sent == .bufferFull {
            sent = connection.sendBinary(large.span)
            if sent == .bufferFull { connection.poll(&collector); usleep(100) }
        }
        #expect(sent == .queued)
        #expect(drive(connection, &collector) { $0.messages.count >= 2 || $0.isClosed })
        #expect(collector.texts.first == "hello over tls")
        #expect(collector.messages.count == 2 && collector.messages[1].kind == .binary && collector.messages[1].bytes == large)
    }

    @Test func aBurstOfMessagesAndTheServersCloseArriveInOrder() throws {
        let server = try TLSReferenceServer()
        var (connection, collector) = try open(port: server.port, path: "/stream/5000", caFile: server.ca.caFile)
        #expect(drive(connection, &collector) { $0.isClosed })
        #expect(collector.messages.count == 5_000, "\(collector.messages.count) of 5000")
        let numbers = collector.texts.compactMap { t in t.split(separator: ",").first.flatMap { Int($0.dropFirst(5)) } }
        #expect(numbers.elementsEqual(0..<5_000), "\(numbers.count) numbers, first \(numbers.prefix(3))")
        #expect(collector.events.contains(.closeReceived(.normal)) && collector.events.last == .closed(.normal), "\(collector.events)")
        _ = connection
    }

    @Test func anIssuerNotInTheTrustStoreIsRefusedWithTheReason() throws {
        let server = try TLSReferenceServer()
        // The system store does not hold the throwaway CA.
        let (_, collector) = try open(port: server.port, path: "/echo", caFile: nil)
        let reason = failure(collector)
        #expect(!collector.events.contains(.opened))
        #expect(reason.contains("certificate verify failed") && reason.contains("unable to get local issuer certificate")
                && reason.contains("the system CA store"), "\(reason)")
    }

    @Test func aNameTheCertificateDoesNotCarryIsRefused() throws {
        let server = try TLSReferenceServer()
        let (_, collector) = try open(port: server.port, path: "/echo", serverName: "stream.binance.com", caFile: server.ca.caFile)
        let reason = failure(collector)
        #expect(!collector.events.contains(.opened))
        #expect(reason.contains("TLS handshake with stream.binance.com failed") && reason.contains("hostname mismatch"), "\(reason)")
        // An IP address is checked against the certificate's addresses.
        let (_, byAddress) = try open(port: server.port, path: "/echo", serverName: "127.0.0.1", caFile: server.ca.caFile)
        #expect(byAddress.events.first == .opened, "\(byAddress.events)")
        let (_, wrongAddress) = try open(port: server.port, path: "/echo", serverName: "127.0.0.2", caFile: server.ca.caFile)
        #expect(failure(wrongAddress).contains("IP address mismatch"), "\(failure(wrongAddress))")
    }

    @Test func anExpiredCertificateIsRefused() throws {
        let server = try TLSReferenceServer()
        let (_, collector) = try open(port: server.expiredPort, path: "/echo", caFile: server.ca.caFile)
        let reason = failure(collector)
        #expect(!collector.events.contains(.opened))
        #expect(reason.contains("certificate has expired") && reason.contains("the CA file \(server.ca.caFile)"), "\(reason)")
    }

    @Test func aReconnectResumesTheSession() throws {
        let server = try TLSReferenceServer()
        var (connection, collector) = try open(port: server.port, path: "/echo", caFile: server.ca.caFile)
        // A TLS 1.3 session ticket comes after the handshake: read something first.
        #expect(connection.sendText(Array("first".utf8).span) == .queued)
        #expect(drive(connection, &collector) { $0.texts.contains("first") })
        #expect(connection.sendClose(.normal) == .queued)
        _ = drive(connection, &collector) { $0.isClosed }
        try connection.connect(to: SocketAddress(host: "127.0.0.1", port: server.port), path: "/echo")
        var second = Collector()
        #expect(drive(connection, &second) { $0.events.contains(.opened) || $0.isClosed })
        #expect(connection.transport.handshakes == 2 && connection.transport.resumedHandshakes == 1,
                "handshakes \(connection.transport.handshakes), resumed \(connection.transport.resumedHandshakes)")
        #expect(waitUntil(5, pollUs: 10_000) { server.handshakes.count == 2 })
        #expect(server.handshakes.map(\.resumed) == [false, true], "\(server.handshakes)")
    }
}

/// A TLS client and server joined in memory (`MemoryTransport`): no socket, no Python.
@Suite(.enabled(if: TestCertificateAuthority.openssl != nil || ReferenceServer.isRequired, "openssl is not installed (Tools/setup)"))
struct TLSInMemoryTests {
    @Test func aServerAndAClientAgreeOnTLS13AndCarryBytesBothWaysInOrder() throws {
        let ca = try TestCertificateAuthority()
        defer { ca.remove() }
        let (a, b) = MemoryTransport.pair(capacity: 1 << 16)
        let server = TLSTransport(inner: a, context: try TLSContext(serverCertificate: ca.certificate, key: ca.key))
        let client = TLSTransport(inner: b, context: try TLSContext(TLSOptions(serverName: "localhost", caFile: ca.caFile)))
        let address = try SocketAddress("127.0.0.1:443")
        try server.connect(to: address)
        try client.connect(to: address)
        var rounds = 0
        var connected = false
        while !connected && rounds < 100 {
            // Both sides every round: each answers what the other wrote.
            let (c, s) = (client.pollConnect(), server.pollConnect())
            connected = c == .connected && s == .connected
            rounds += 1
        }
        #expect(client.protocolVersion == "TLSv1.3" && server.protocolVersion == "TLSv1.3", "after \(rounds) rounds")
        // 300 KiB from the client: more than one record and more than the BIO pair holds.
        let sent = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        var received: [UInt8] = []
        var offset = 0
        rounds = 0
        while received.count < sent.count && rounds < 10_000 {
            rounds += 1
            let chunk = min(16_384, sent.count - offset)
            if chunk > 0, let space = client.reserveSend(chunk) {
                sent.withUnsafeBytes { space.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[offset..<(offset + chunk)])) }
                client.commitSend(chunk)
                offset += chunk
            }
            _ = client.flush()
            if case .bytes(let bytes) = server.receive() { received += bytes }
        }
        #expect(received.count == sent.count && received.elementsEqual(sent), "\(received.count) of \(sent.count) bytes in \(rounds) rounds")
        // And back: the server's close_notify ends the client's stream.
        let reply = Array("done".utf8)
        let space = try #require(server.reserveSend(reply.count))
        space.copyBytes(from: reply)
        server.commitSend(reply.count)
        server.close()
        var back: [UInt8] = []
        var ended = false
        for _ in 0..<100 where !ended {
            switch client.receive() {
            case .bytes(let bytes): back += bytes
            case .endOfStream: ended = true
            default: break
            }
        }
        #expect(back == reply && ended)
    }
}
