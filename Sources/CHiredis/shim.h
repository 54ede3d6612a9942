// hiredis reached from Swift: imported by the writer alone.
// hiredis 0.14 (old API): pipelining is redisAppendFormattedCommand (preformatted RESP,
// not variadic) + redisGetReply; redisCommand is variadic and unusable from Swift.
#include <hiredis/hiredis.h>

/// The context's error text (a fixed char array Swift imports as a tuple).
static inline const char *tl_redis_errstr(const redisContext *c) { return c->errstr; }

/// A timeval from milliseconds (for redisConnectWithTimeout / redisSetTimeout).
static inline struct timeval tl_redis_timeval_ms(long ms) {
    struct timeval tv; tv.tv_sec = ms / 1000; tv.tv_usec = (ms % 1000) * 1000; return tv;
}
