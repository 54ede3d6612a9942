import CSSL
import Glibc

/// What a TLS client trusts and checks.
public struct TLSOptions: Sendable, Equatable {
    /// The name sent as SNI and checked against the certificate: a DNS name, or an IP
    /// address literal checked against the certificate's IP addresses.
    public var serverName: String
    /// A PEM file of CA certificates trusted instead of the system store (nil: the system store).
    public var caFile: String?

    public init(serverName: String, caFile: String? = nil) {
        self.serverName = serverName
        self.caFile = caFile
    }
}

/// An OpenSSL context, TLS 1.2 and 1.3 only. A client's verifies the peer's chain against
/// the system store or a CA file; a server's presents a certificate (local test servers and
/// benchmarks). Built once per feed (cold path), shared by its connections.
public final class TLSContext: @unchecked Sendable {
    let ctx: OpaquePointer
    public let options: TLSOptions
    /// Accepts sessions (presents `certificate`) rather than opening them.
    public let isServer: Bool

    public init(_ options: TLSOptions) throws(NetError) {
        guard let ctx = SSL_CTX_new(TLS_client_method()) else { throw .tls(TLSContext.errorText("SSL_CTX_new")) }
        self.ctx = ctx
        self.options = options
        isServer = false
        guard tl_ssl_ctx_tls12_and_13(ctx) == 1 else { throw .tls(TLSContext.errorText("cannot limit the protocol to TLS 1.2 and 1.3")) }
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nil)
        if let file = options.caFile {
            guard access(file, R_OK) == 0 else {
                throw .tls("cannot read the CA file \(file): \(String(cString: strerror(errno)))")
            }
            guard SSL_CTX_load_verify_locations(ctx, file, nil) == 1 else {
                throw .tls(TLSContext.errorText("no CA certificate could be read from \(file)"))
            }
        } else {
            guard SSL_CTX_set_default_verify_paths(ctx) == 1 else { throw .tls(TLSContext.errorText("cannot load the system CA store")) }
        }
        tl_ssl_ctx_client_session_cache(ctx)
    }

    /// A server's context presenting `certificate` (PEM chain) with its private `key` (PEM).
    public init(serverCertificate certificate: String, key: String) throws(NetError) {
        guard let ctx = SSL_CTX_new(TLS_server_method()) else { throw .tls(TLSContext.errorText("SSL_CTX_new")) }
        self.ctx = ctx
        options = TLSOptions(serverName: "")
        isServer = true
        guard tl_ssl_ctx_tls12_and_13(ctx) == 1 else { throw .tls(TLSContext.errorText("cannot limit the protocol to TLS 1.2 and 1.3")) }
        guard SSL_CTX_use_certificate_chain_file(ctx, certificate) == 1 else {
            throw .tls(TLSContext.errorText("cannot use the certificate \(certificate)"))
        }
        guard SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) == 1, SSL_CTX_check_private_key(ctx) == 1 else {
            throw .tls(TLSContext.errorText("cannot use the key \(key) with \(certificate)"))
        }
    }

    deinit { SSL_CTX_free(ctx) }

    /// `what`, then OpenSSL's queued errors (the queue is emptied).
    static func errorText(_ what: String) -> String {
        var reasons: [String] = []
        var buffer = [CChar](repeating: 0, count: 256)
        while case let e = ERR_get_error(), e != 0 {
            ERR_error_string_n(e, &buffer, buffer.count)
            reasons.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return reasons.isEmpty ? what : "\(what): \(reasons.joined(separator: "; "))"
    }
}

/// TLS over another transport (a TCP socket, on io_uring or the posix fallback): the same
/// receive path moves the ciphertext, and OpenSSL decrypts it through a BIO pair (fixed
/// buffers, allocated with the connection) into a plaintext buffer allocated once. The
/// handshake runs inside `pollConnect`, which reports `.connected` once it is done, so the
/// WebSocket above sees a byte stream as over plain TCP. A reconnect offers the previous
/// session for resumption. With a server context, `connect` starts the inner transport and
/// waits for the client's hello instead (in-memory peers in tests and benchmarks). Owned by
/// one thread, like the transport under it.
public final class TLSTransport: Transport {
    public let inner: any Transport
    public let context: TLSContext
    public var backend: NetBackend { inner.backend }

    private var ssl: OpaquePointer?
    /// Our end of the BIO pair: ciphertext from the socket goes in, ciphertext for it comes out.
    private var network: OpaquePointer?
    private var session: OpaquePointer?
    private let plaintext: UnsafeMutableRawBufferPointer
    /// Plaintext the WebSocket queued (`reserveSend`/`commitSend`); `[sent, staged)` is not
    /// yet taken by OpenSSL.
    private let outgoing: UnsafeMutableRawBufferPointer
    private var staged = 0
    private var sent = 0
    /// Ciphertext received and not yet handed to OpenSSL (inside the inner transport's buffer,
    /// valid until its next `receive`).
    private var pendingIn = UnsafeRawBufferPointer(start: nil, count: 0)
    private var tcpConnected = false
    private var established = false
    private var innerEnded = false
    private var failure: NetError?

    /// Handshakes completed, and how many of them resumed an earlier session.
    public private(set) var handshakes = 0
    public private(set) var resumedHandshakes = 0
    /// The protocol of the last handshake ("TLSv1.3").
    public private(set) var protocolVersion = ""

    /// - Parameters:
    ///   - sendBufferBytes: the plaintext send queue: as large as the TCP transport's, so a
    ///     frame that fits one fits the other.
    public init(inner: any Transport, context: TLSContext, receiveBufferBytes: Int = 256 * 1_024,
                sendBufferBytes: Int = (1 << 20) + 64 * 1_024) {
        precondition(receiveBufferBytes > 0 && sendBufferBytes > 0, "buffer sizes must be positive")
        self.inner = inner
        self.context = context
        plaintext = .allocate(byteCount: receiveBufferBytes, alignment: 64)
        outgoing = .allocate(byteCount: sendBufferBytes, alignment: 64)
    }

    deinit {
        release()
        if let session { SSL_SESSION_free(session) }
        plaintext.deallocate()
        outgoing.deallocate()
    }

    /// The BIO pair's buffer per direction: a TLS record is at most 16 KiB plus overhead.
    static let bioBytes = 64 * 1_024

    public func connect(to address: SocketAddress) throws(NetError) {
        release()
        try inner.connect(to: address)
        tcpConnected = false
        established = false
        innerEnded = false
        failure = nil
        staged = 0
        sent = 0
        pendingIn = UnsafeRawBufferPointer(start: nil, count: 0)
        guard let ssl = SSL_new(context.ctx) else { throw .tls(TLSContext.errorText("SSL_new")) }
        self.ssl = ssl
        tl_ssl_set_write_modes(ssl)
        var internalEnd: OpaquePointer?
        var networkEnd: OpaquePointer?
        guard BIO_new_bio_pair(&internalEnd, Self.bioBytes, &networkEnd, Self.bioBytes) == 1, let internalEnd, let networkEnd else {
            throw .tls(TLSContext.errorText("BIO_new_bio_pair"))
        }
        SSL_set_bio(ssl, internalEnd, internalEnd)
        network = networkEnd
        if context.isServer {
            SSL_set_accept_state(ssl)
            return
        }
        let name = context.options.serverName
        var probe = in6_addr()
        let isAddress = inet_pton(AF_INET, name, &probe) == 1 || inet_pton(AF_INET6, name, &probe) == 1
        if isAddress {
            guard X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name) == 1 else { throw .tls(TLSContext.errorText("bad IP address \(name)")) }
        } else {
            guard tl_ssl_set_server_name(ssl, name) == 1, SSL_set1_host(ssl, name) == 1 else {
                throw .tls(TLSContext.errorText("bad server name \(name)"))
            }
        }
        if let session { _ = SSL_set_session(ssl, session) }
        SSL_set_connect_state(ssl)
    }

    public func pollConnect() -> ConnectProgress {
        if let failure { return .failed(failure) }
        guard let ssl else { return .failed(.notConnected) }
        if established { return .connected }
        if !tcpConnected {
            switch inner.pollConnect() {
            case .connected: tcpConnected = true
            case .inProgress: return .inProgress
            case .failed(let error): return .failed(error)
            }
        }
        // The handshake: each pass sends what OpenSSL wrote and feeds it what arrived.
        while true {
            let rc = SSL_do_handshake(ssl)
            flushCiphertext()
            if rc == 1 {
                established = true
                handshakes += 1
                if SSL_session_reused(ssl) == 1 { resumedHandshakes += 1 }
                protocolVersion = String(cString: tl_ssl_version(ssl))
                return .connected
            }
            switch SSL_get_error(ssl, rc) {
            case SSL_ERROR_WANT_READ:
                if pendingIn.isEmpty {
                    switch inner.receive() {
                    case .bytes(let bytes): pendingIn = bytes
                    case .nothing: return .inProgress
                    case .endOfStream: return fail(.tls("the server closed the connection during the TLS handshake with \(context.options.serverName)"))
                    case .failed(let error): return fail(error)
                    }
                }
                if feedCiphertext() == 0 { return .inProgress }
            case SSL_ERROR_WANT_WRITE:
                return .inProgress
            default:
                return fail(.tls(handshakeFailure(ssl)))
            }
        }
    }

    public func receive() -> ReceiveResult {
        if let failure { return .failed(failure) }
        guard let ssl, established else { return .failed(.notConnected) }
        var filled = 0
        var closed = false
        reading: while true {
            // What OpenSSL can decrypt from what it holds.
            while filled < plaintext.count {
                let n = SSL_read(ssl, plaintext.baseAddress! + filled, Int32(min(plaintext.count - filled, Int(Int32.max))))
                if n > 0 { filled += Int(n); continue }
                let code = SSL_get_error(ssl, n)
                if code == SSL_ERROR_WANT_READ || code == SSL_ERROR_WANT_WRITE { break }
                if code == SSL_ERROR_ZERO_RETURN { closed = true; break reading }
                failure = .tls(TLSContext.errorText("TLS read from \(context.options.serverName) failed"))
                break reading
            }
            if filled == plaintext.count { break }
            // More ciphertext: the rest of the last read, else the next one.
            if pendingIn.isEmpty {
                if innerEnded { break }
                switch inner.receive() {
                case .bytes(let bytes): pendingIn = bytes
                case .nothing: break reading
                case .endOfStream: innerEnded = true; break reading
                case .failed(let error): failure = error; break reading
                }
            }
            if feedCiphertext() == 0 { break }
        }
        // Key updates and session tickets may want an answer.
        flushCiphertext()
        if filled > 0 { return .bytes(UnsafeRawBufferPointer(rebasing: plaintext[0..<filled])) }
        if let failure { return .failed(failure) }
        return closed || (innerEnded && pendingIn.isEmpty) ? .endOfStream : .nothing
    }

    public func reserveSend(_ count: Int) -> UnsafeMutableRawBufferPointer? {
        guard established, failure == nil else { return nil }
        if sent == staged {
            sent = 0
            staged = 0
        }
        guard count <= outgoing.count - staged else { return nil }
        return UnsafeMutableRawBufferPointer(rebasing: outgoing[staged..<(staged + count)])
    }

    public func commitSend(_ count: Int) {
        precondition(staged + count <= outgoing.count, "commitSend(\(count)) beyond the send buffer")
        staged += count
        encrypt()
    }

    public func flush() -> NetError? {
        if let failure { return failure }
        guard ssl != nil else { return .notConnected }
        encrypt()
        flushCiphertext()
        return inner.flush()
    }

    public var sendCapacity: Int { outgoing.count }

    public var pendingSendBytes: Int {
        inner.pendingSendBytes + (staged - sent) + (network.map { Int(BIO_ctrl_pending($0)) } ?? 0)
    }

    /// Sends close_notify (best effort), keeps the session for the next connect, closes the socket.
    public func close() {
        if let ssl, established, failure == nil {
            _ = SSL_shutdown(ssl)
            flushCiphertext()
            _ = inner.flush()
        }
        release()
        inner.close()
    }

    // MARK: Internals

    /// Hands OpenSSL as much of `pendingIn` as the BIO pair takes; returns the bytes taken.
    private func feedCiphertext() -> Int {
        guard let network, !pendingIn.isEmpty else { return 0 }
        let room = Int(BIO_ctrl_get_write_guarantee(network))
        let take = min(room, pendingIn.count)
        guard take > 0 else { return 0 }
        let n = Int(BIO_write(network, pendingIn.baseAddress, Int32(take)))
        guard n > 0 else { return 0 }
        pendingIn = UnsafeRawBufferPointer(rebasing: pendingIn[n...])
        return n
    }

    /// Moves the ciphertext OpenSSL wrote into the inner transport's send queue (as much as
    /// fits) and starts sending it.
    private func flushCiphertext() {
        guard let network else { return }
        var moved = false
        while case let waiting = Int(BIO_ctrl_pending(network)), waiting > 0 {
            guard let space = inner.reserveSend(min(waiting, 16 * 1_024 + 512)) else { break }
            let n = Int(BIO_read(network, space.baseAddress, Int32(space.count)))
            guard n > 0 else { break }
            inner.commitSend(n)
            moved = true
        }
        if moved, let error = inner.flush(), failure == nil { failure = error }
    }

    /// Encrypts the staged plaintext while OpenSSL takes it.
    private func encrypt() {
        guard let ssl, established else { return }
        while sent < staged {
            let n = SSL_write(ssl, outgoing.baseAddress! + sent, Int32(min(staged - sent, Int(Int32.max))))
            if n > 0 {
                sent += Int(n)
                flushCiphertext()
                continue
            }
            let code = SSL_get_error(ssl, n)
            if code == SSL_ERROR_WANT_WRITE || code == SSL_ERROR_WANT_READ {
                // The BIO pair is full: move its ciphertext out, then try once more next time.
                flushCiphertext()
                return
            }
            failure = .tls(TLSContext.errorText("TLS write to \(context.options.serverName) failed"))
            return
        }
    }

    private func fail(_ error: NetError) -> ConnectProgress {
        failure = error
        return .failed(error)
    }

    /// Why the handshake failed, in the words a user can act on.
    private func handshakeFailure(_ ssl: OpaquePointer) -> String {
        let name = context.options.serverName
        let verify = SSL_get_verify_result(ssl)
        if verify != Int(X509_V_OK) {
            let reason = String(cString: X509_verify_cert_error_string(verify))
            ERR_clear_error()
            let trust = context.options.caFile.map { "the CA file \($0)" } ?? "the system CA store"
            return "TLS handshake with \(name) failed: certificate verify failed (\(reason); checked against \(trust))"
        }
        return TLSContext.errorText("TLS handshake with \(name) failed")
    }

    /// Frees the connection's OpenSSL state, keeping its session for resumption.
    private func release() {
        guard let ssl else { return }
        if established, let s = SSL_get1_session(ssl) {
            if let session { SSL_SESSION_free(session) }
            session = s
        }
        SSL_free(ssl)  // frees the BIO pair's internal end
        if let network { BIO_free(network) }
        self.ssl = nil
        network = nil
        established = false
    }
}
