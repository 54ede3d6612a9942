// The feed's TLS read path, measured (not yet in the allocation gate: `Tools/alloc-gate`
// skips this target, because OpenSSL 3.0's TLS 1.3 record layer allocates inside SSL_write
// and SSL_read, 4 times per message here; wall clock reported, never gated).
//
// - Net.tlsMessageIn: one WebSocket text frame (a Binance trade message) per iteration,
//   encrypted by an in-memory TLS 1.3 server (`TLSTransport` with a server context over a
//   `MemoryTransport`), then read by the client as the feed reads it: its `TLSTransport`
//   decrypts the record into its buffer and its `WebSocketConnection` decodes the frame and
//   hands the message to a handler. Both ends' work is counted (the server's encryption
//   too).
// The certificate is made with the `openssl` command when the benchmark starts (a
// throwaway self-signed one for localhost, in a temporary folder removed at once).
// With `scalingFactor: .kilo`, the wall clock is ns per message.

import Benchmark
import BenchmarkGate
import Foundation
import TicklineCore
import TicklineNet
import TicklineWebSocket

/// A self-signed certificate and key for localhost, as PEM files in `folder`.
func throwawayCertificate(in folder: String) -> (certificate: String, key: String) {
    let (certificate, key) = ("\(folder)/cert.pem", "\(folder)/key.pem")
    let openssl = Process()
    openssl.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
    openssl.arguments = ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key,
                         "-out", certificate, "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"]
    openssl.standardOutput = FileHandle.nullDevice
    openssl.standardError = FileHandle.nullDevice
    try! openssl.run()
    openssl.waitUntilExit()
    precondition(openssl.terminationStatus == 0, "openssl could not make a certificate (is it installed?)")
    return (certificate, key)
}

/// Counts the messages the client decoded.
struct Counter: WebSocketHandler {
    var messages = 0
    var bytes = 0
    mutating func onMessage(_ kind: MessageKind, _ payload: Span<UInt8>, stamp: ReadStamp) {
        messages += 1
        bytes += payload.count
    }
    mutating func onEvent(_ event: ConnectionEvent) {}
}

/// A TLS client and server joined in memory, past their handshakes (TLS and WebSocket).
final class TLSPair {
    let server: TLSTransport
    let client: WebSocketConnection<TLSTransport>
    var counter = Counter()
    let frame: [UInt8]

    init() {
        let message = Array(#"{"stream":"btcusdt@trade","data":{"e":"trade","E":1723161255343,"s":"BTCUSDT","t":3735683259,"p":"60000.63000000","q":"0.02000000","T":1723161255342,"m":true,"M":true}}"#.utf8)
        var out = [UInt8](repeating: 0, count: message.count + 16)
        var encoder = FrameEncoder(role: .server)
        let length = out.withUnsafeMutableBytes { raw in
            var span = raw.bindMemory(to: UInt8.self).mutableSpan
            return encoder.encode(.text, payload: message.span, into: &span)!
        }
        frame = Array(out[0..<length])
        let folder = NSTemporaryDirectory() + "tickline-tls-bench-\(getpid())"
        try! FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let (certificate, key) = throwawayCertificate(in: folder)
        let serverContext = try! TLSContext(serverCertificate: certificate, key: key)
        let clientContext = try! TLSContext(TLSOptions(serverName: "localhost", caFile: certificate))
        try? FileManager.default.removeItem(atPath: folder)
        let (a, b) = MemoryTransport.pair(capacity: 1 << 20)
        let server = TLSTransport(inner: a, context: serverContext)
        let client = WebSocketConnection(transport: TLSTransport(inner: b, context: clientContext))
        self.server = server
        self.client = client
        let address = try! SocketAddress("127.0.0.1:443")
        try! server.connect(to: address)
        try! client.connect(to: address, path: "/stream")
        // The handshakes: the client's poll drives its side, the server answers the upgrade.
        var request: [UInt8] = []
        var upgraded = false
        var handshake = Counter()
        for _ in 0..<1_000 where !upgraded {
            client.poll(&handshake)
            _ = server.pollConnect()
            if case .bytes(let bytes) = server.receive() { request += bytes }
            if case .request(let parsed, _) = ServerHandshake.parseRequest(request.span) {
                let response = ServerHandshake.response(to: parsed)
                let space = server.reserveSend(response.count)!
                space.copyBytes(from: response)
                server.commitSend(response.count)
                _ = server.flush()
                upgraded = true
            }
        }
        for _ in 0..<100 { client.poll(&handshake) }
        messageIn()
        precondition(upgraded && counter.messages == 1, "the TLS pair did not carry a message (upgraded \(upgraded))")
        print("net benchmark: TLS \(server.protocolVersion) in memory, a \(frame.count)-byte frame per message")
    }

    /// One frame: the server encrypts it, the client decrypts and decodes it.
    @inline(__always)
    func messageIn() {
        frame.withUnsafeBytes { bytes in
            let space = server.reserveSend(bytes.count)!
            space.copyMemory(from: bytes)
            server.commitSend(bytes.count)
        }
        _ = server.flush()
        client.poll(&counter)
    }
}

nonisolated(unsafe) let configuration = gatedConfiguration()

let benchmarks: @Sendable () -> Void = {
    nonisolated(unsafe) let pair = TLSPair()
    Benchmark("Net.tlsMessageIn", configuration: configuration) { benchmark in
        for _ in benchmark.scaledIterations { pair.messageIn() }
    }
}
