#if canImport(Glibc)
import Glibc
#endif
import Foundation
import TicklineWebSocket

/// `--bench-client`: a minimal WebSocket client that only counts, to measure how fast the
/// server delivers to one local client. Answers pings so it is never timed out.
enum BenchClient {
    static func run(url: String, seconds: Double) throws -> String {
        guard url.hasPrefix("ws://") else { throw SocketError(message: "\(url): only ws:// URLs") }
        let rest = url.dropFirst(5)
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let hostPort = String(rest[..<slash])
        let path = slash == rest.endIndex ? "/" : String(rest[slash...])
        let fd = try connectSocket(hostPort)
        defer { close(fd) }
        let handshake = ClientHandshake(host: hostPort, path: path)
        guard sendAll(fd, handshake.request()) else { throw SocketError("send") }

        let capacity = 1 << 20
        let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
        defer { buffer.deallocate() }
        var received: [UInt8] = []
        var leftover: [UInt8] = []
        while true {
            guard waitReadable(fd, timeoutMs: 5000) else { throw SocketError(message: "no handshake answer within 5 s") }
            let n = recv(fd, buffer, capacity, 0)
            guard n > 0 else { throw SocketError(message: "connection closed during the handshake") }
            received.append(contentsOf: UnsafeBufferPointer(start: buffer, count: n))
            switch received.withUnsafeBufferPointer({ handshake.parseResponse($0.span) }) {
            case .incomplete: continue
            case .rejected(let error): throw SocketError(message: error.description)
            case .accepted(let headLength): leftover = Array(received[headLength...])
            }
            break
        }

        var decoder = FrameDecoder(role: .client)
        var counter = Counter(fd: fd)
        let start = monotonicNs()
        let end = start + Int64(seconds * 1e9)
        if !leftover.isEmpty { _ = leftover.withUnsafeBufferPointer { decoder.feed($0.span, to: &counter) } }
        var reads: UInt64 = 0
        while monotonicNs() < end {
            guard waitReadable(fd, timeoutMs: 50) else { continue }
            let n = recv(fd, buffer, capacity, 0)
            if n <= 0 { break }
            reads += 1
            counter.bytes += UInt64(n)
            let status = decoder.feed(UnsafeBufferPointer(start: buffer, count: n).span, to: &counter)
            if case .open = status { continue }
            break
        }
        let elapsed = Double(monotonicNs() - start) / 1e9
        return "{\"messages\":\(counter.messages),\"bytes\":\(counter.bytes),\"reads\":\(reads),\"seconds\":\(String(format: "%.3f", elapsed))"
            + ",\"messages_per_second\":\(Int(Double(counter.messages) / elapsed)),\"megabytes_per_second\":\(String(format: "%.1f", Double(counter.bytes) / elapsed / 1e6))}"
    }

    private struct Counter: FrameHandler {
        let fd: Int32
        var messages: UInt64 = 0
        var bytes: UInt64 = 0
        var encoder = FrameEncoder(role: .client)

        mutating func onMessage(_ kind: MessageKind, _ payload: Span<UInt8>) { messages += 1 }
        mutating func onPing(_ payload: Span<UInt8>) {
            var frame = [UInt8](repeating: 0, count: 256)
            var out = frame.mutableSpan
            if let n = encoder.encode(.pong, payload: payload, into: &out) {
                _ = frame.withUnsafeBytes { sendAll(fd, $0.baseAddress!, n) }
            }
        }
        mutating func onPong(_ payload: Span<UInt8>) {}
        mutating func onClose(_ code: CloseCode, reason: Span<UInt8>) {}
    }
}
