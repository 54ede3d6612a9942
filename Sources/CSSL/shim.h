// OpenSSL 3 (libssl-dev) reached from Swift: the TLS transport under the feed's
// WebSocket connections. Several calls are macros over SSL_ctrl/SSL_CTX_ctrl that Swift
// cannot import: typed wrappers below.
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/// SNI: the host name the client asks the server for.
static inline int tl_ssl_set_server_name(SSL *s, const char *name) { return (int)SSL_set_tlsext_host_name(s, name); }

/// TLS 1.2 and 1.3 only.
static inline int tl_ssl_ctx_tls12_and_13(SSL_CTX *c) {
    return SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION) == 1 && SSL_CTX_set_max_proto_version(c, TLS1_3_VERSION) == 1;
}

/// Keeps client sessions for resumption (the transport stores and offers them itself).
static inline void tl_ssl_ctx_client_session_cache(SSL_CTX *c) {
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
}

/// Partial writes and a moving write buffer: SSL_write may take part of a record's
/// plaintext when the network side is full, and be retried from another address.
static inline void tl_ssl_set_write_modes(SSL *s) {
    SSL_set_mode(s, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
}

/// The negotiated protocol version ("TLSv1.3").
static inline const char *tl_ssl_version(const SSL *s) { return SSL_get_version(s); }
