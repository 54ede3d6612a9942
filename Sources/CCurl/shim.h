// libcurl reached from Swift: the writer and cold paths only, never per-event code.
// curl_easy_setopt/getinfo are C variadics Swift cannot call: typed wrappers below.
// zlib (gzip request bodies for the InfluxDB writer) is reached through the same shim:
// deflateInit2 is a macro. Targets that call the tl_gzip_* helpers link "z".
#include <curl/curl.h>
#include <zlib.h>

static inline CURLcode tl_curl_setopt_long(CURL *h, CURLoption o, long v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode tl_curl_setopt_str(CURL *h, CURLoption o, const char *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode tl_curl_setopt_ptr(CURL *h, CURLoption o, void *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode tl_curl_getinfo_long(CURL *h, CURLINFO i, long *v) { return curl_easy_getinfo(h, i, v); }

/// The signature of CURLOPT_WRITEFUNCTION / CURLOPT_HEADERFUNCTION callbacks.
typedef size_t (*tl_curl_data_fn)(char *data, size_t size, size_t count, void *userdata);

/// CURLOPT_WRITEFUNCTION with its CURLOPT_WRITEDATA.
static inline CURLcode tl_curl_setopt_write_callback(CURL *h, tl_curl_data_fn f, void *userdata) {
    CURLcode rc = curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, f);
    if (rc != CURLE_OK) return rc;
    return curl_easy_setopt(h, CURLOPT_WRITEDATA, userdata);
}

/// CURLOPT_HEADERFUNCTION with its CURLOPT_HEADERDATA.
static inline CURLcode tl_curl_setopt_header_callback(CURL *h, tl_curl_data_fn f, void *userdata) {
    CURLcode rc = curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, f);
    if (rc != CURLE_OK) return rc;
    return curl_easy_setopt(h, CURLOPT_HEADERDATA, userdata);
}

/// CURLOPT_HTTPHEADER (the list must outlive the handle's use of it).
static inline CURLcode tl_curl_setopt_headers(CURL *h, struct curl_slist *list) {
    return curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
}

/// A POST body the caller keeps alive until the transfer ends (not copied).
static inline CURLcode tl_curl_setopt_post_body(CURL *h, const void *body, curl_off_t length) {
    CURLcode rc = curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, length);
    if (rc != CURLE_OK) return rc;
    return curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
}

/// deflateInit2 for a gzip stream (window bits 15 + 16) at `level`.
static inline int tl_gzip_init(z_stream *s, int level) {
    s->zalloc = Z_NULL; s->zfree = Z_NULL; s->opaque = Z_NULL;
    return deflateInit2(s, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
}

/// Compresses `in` into `out` as one gzip member. Returns the compressed length, or 0 when
/// `out` is too small or zlib fails. `s` must come from tl_gzip_init; it is reset for reuse.
static inline size_t tl_gzip_compress(z_stream *s, const void *in, size_t inLength, void *out, size_t outCapacity) {
    if (deflateReset(s) != Z_OK) return 0;
    s->next_in = (Bytef *)in; s->avail_in = (uInt)inLength;
    s->next_out = (Bytef *)out; s->avail_out = (uInt)outCapacity;
    int rc = deflate(s, Z_FINISH);
    if (rc != Z_STREAM_END) return 0;
    return outCapacity - s->avail_out;
}
