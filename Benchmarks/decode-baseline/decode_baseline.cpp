// Binance combined-stream decode baseline on simdjson On-Demand: the reference that
// `tickline bench decode` is compared against (see README.md next to this file).
//
// Reads a recorded file (`<recv ns> <raw JSON>` per line, plain or gzip), loads every
// message into one padded arena, then decodes all of them `--passes` times and reports the
// median pass. Extracted per message: the wrapper's stream name; trade: e, E, s, t, p, q, T, m;
// bookTicker: u, s, b, B, a, A; depthUpdate: e, E, s, U, u and every bid/ask level. Prices
// and quantities go straight from their digits to int64 fixed point (8 decimals, Binance's
// wire precision), never through double. Nothing else is done (no order book).
#include <simdjson.h>
#include <zlib.h>

#include <algorithm>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <string_view>
#include <utility>
#include <new>
#include <vector>

using namespace simdjson;

// Every operator new in the process (simdjson's buffers included) is counted, so the output
// can show that the timed loop allocates nothing. Single-threaded program: a plain counter.
static uint64_t g_allocations = 0;
void *operator new(size_t size) {
    ++g_allocations;
    if (void *p = std::malloc(size ? size : 1)) return p;
    throw std::bad_alloc();
}
void *operator new[](size_t size) { return operator new(size); }
void operator delete(void *p) noexcept { std::free(p); }
void operator delete[](void *p) noexcept { std::free(p); }
void operator delete(void *p, size_t) noexcept { std::free(p); }
void operator delete[](void *p, size_t) noexcept { std::free(p); }

namespace {

#define TL_STR2(x) #x
#define TL_STR(x) TL_STR2(x)
const char *const kSimdjsonVersion = TL_STR(SIMDJSON_VERSION);

constexpr int kDecimals = 8;
constexpr int64_t kPow10[kDecimals + 1] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000};

struct Counts {
    uint64_t trades = 0, book_tickers = 0, depth_updates = 0, depth_levels = 0, other = 0, errors = 0;
};

// What one message decodes to: the same fields the Swift decoder fills in its events.
struct Decoded {
    std::string_view stream;
    std::string_view event_type;
    std::string_view symbol;
    uint64_t event_time = 0, trade_time = 0, trade_id = 0, first_update = 0, last_update = 0;
    int64_t price = 0, quantity = 0, bid = 0, bid_qty = 0, ask = 0, ask_qty = 0;
    bool buyer_maker = false;
    int has_e = 0, has_t = 0, has_p = 0, has_U = 0, has_u = 0, b_string = 0, b_array = 0;
};

// Digits of a JSON string (p is just after its opening quote; simdjson's structural pass
// guarantees a closing quote) to fixed point at kDecimals. False on anything else.
inline bool parse_fixed(const char *p, int64_t &out) {
    int64_t v = 0;
    int frac = -1;
    for (;;) {
        const unsigned c = static_cast<unsigned char>(*p++);
        const unsigned d = c - '0';
        if (d < 10) {
            v = v * 10 + d;
            if (frac >= 0) ++frac;
        } else if (c == '.' && frac < 0) {
            frac = 0;
        } else if (c == '"') {
            break;
        } else {
            return false;
        }
    }
    if (frac < 0) frac = 0;
    if (frac > kDecimals) return false;
    out = v * kPow10[kDecimals - frac];
    return true;
}

inline bool fixed_value(ondemand::value v, int64_t &out) {
    ondemand::raw_json_string raw;
    if (v.get_raw_json_string().get(raw)) return false;
    return parse_fixed(raw.raw(), out);
}

// One-character key: raw points after the opening quote.
inline char key1(const char *k) { return k[1] == '"' ? k[0] : 0; }

// [["price","qty"], ...]: every level parsed; sums go into the checksum.
inline bool levels(ondemand::value v, uint64_t &count, uint64_t &checksum) {
    ondemand::array arr;
    if (v.get_array().get(arr)) return false;
    for (auto level_result : arr) {
        ondemand::array pair;
        if (level_result.get_array().get(pair)) return false;
        int64_t pq[2] = {0, 0};
        int i = 0;
        for (auto x : pair) {
            ondemand::value xv;
            if (std::move(x).get(xv) || i >= 2 || !fixed_value(xv, pq[i])) return false;
            ++i;
        }
        if (i != 2) return false;
        checksum += static_cast<uint64_t>(pq[0]) + static_cast<uint64_t>(pq[1]);
        ++count;
    }
    return true;
}

// The "data" object, fields in any order, unknown fields skipped.
inline bool decode_data(ondemand::object obj, Decoded &d, Counts &counts, uint64_t &checksum) {
    uint64_t level_count = 0;
    for (auto field_result : obj) {
        ondemand::field field;
        if (std::move(field_result).get(field)) return false;
        const char *k = field.key().raw();
        ondemand::value v = field.value();
        switch (key1(k)) {
        case 'e': if (v.get_string().get(d.event_type)) return false; d.has_e = 1; break;
        case 'E': if (v.get_uint64().get(d.event_time)) return false; break;
        case 's': if (v.get_string().get(d.symbol)) return false; break;
        case 't': if (v.get_uint64().get(d.trade_id)) return false; d.has_t = 1; break;
        case 'T': if (v.get_uint64().get(d.trade_time)) return false; break;
        case 'p': if (!fixed_value(v, d.price)) return false; d.has_p = 1; break;
        case 'q': if (!fixed_value(v, d.quantity)) return false; break;
        case 'm': if (v.get_bool().get(d.buyer_maker)) return false; break;
        case 'U': if (v.get_uint64().get(d.first_update)) return false; d.has_U = 1; break;
        case 'u': if (v.get_uint64().get(d.last_update)) return false; d.has_u = 1; break;
        case 'B': if (!fixed_value(v, d.bid_qty)) return false; break;
        case 'A': if (!fixed_value(v, d.ask_qty)) return false; break;
        case 'b':
        case 'a': {
            // bookTicker: a price string; depthUpdate: an array of levels.
            ondemand::json_type type;
            if (v.type().get(type)) return false;
            if (type == ondemand::json_type::string) {
                if (!fixed_value(v, k[0] == 'b' ? d.bid : d.ask)) return false;
                d.b_string = 1;
            } else {
                if (!levels(v, level_count, checksum)) return false;
                d.b_array = 1;
            }
            break;
        }
        default: break;  // "M" and future fields
        }
    }
    if (d.has_e && d.event_type == "trade" && d.has_t && d.has_p) {
        counts.trades++;
        checksum += d.trade_id + d.event_time + d.trade_time + static_cast<uint64_t>(d.price) +
                    static_cast<uint64_t>(d.quantity) + d.buyer_maker;
    } else if (d.has_e && d.event_type == "depthUpdate" && d.has_U && d.has_u) {
        counts.depth_updates++;
        counts.depth_levels += level_count;
        checksum += d.event_time + d.first_update + d.last_update;
    } else if (!d.has_e && d.has_u && d.b_string) {
        counts.book_tickers++;
        checksum += d.last_update + static_cast<uint64_t>(d.bid) + static_cast<uint64_t>(d.bid_qty) +
                    static_cast<uint64_t>(d.ask) + static_cast<uint64_t>(d.ask_qty);
    } else {
        counts.other++;
        return true;
    }
    checksum += d.symbol.size() + (d.symbol.empty() ? 0 : static_cast<unsigned char>(d.symbol[0]));
    return true;
}

// One message: {"stream": "...", "data": {...}} in any order; anything else is "other".
inline void decode_message(ondemand::parser &parser, const char *json, size_t len, size_t capacity,
                           Counts &counts, uint64_t &checksum) {
    ondemand::document doc;
    ondemand::object top;
    if (parser.iterate(json, len, capacity).get(doc) || doc.get_object().get(top)) {
        counts.errors++;
        return;
    }
    Decoded d;
    bool have_data = false;
    for (auto field_result : top) {
        ondemand::field field;
        if (std::move(field_result).get(field)) { counts.errors++; return; }
        const char *k = field.key().raw();
        if (std::memcmp(k, "stream\"", 7) == 0) {
            if (field.value().get_string().get(d.stream)) { counts.errors++; return; }
        } else if (std::memcmp(k, "data\"", 5) == 0) {
            ondemand::object data;
            if (field.value().get_object().get(data) || !decode_data(data, d, counts, checksum)) {
                counts.errors++;
                return;
            }
            have_data = true;
        }
    }
    if (!have_data) { counts.other++; return; }
    checksum += d.stream.size();
}

// Whole input through zlib (which also reads plain files as they are).
bool read_all(const char *path, std::string &out) {
    gzFile f = gzopen(path, "rb");
    if (!f) return false;
    gzbuffer(f, 1 << 20);
    char buf[1 << 16];
    int n;
    while ((n = gzread(f, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
    int err = 0;
    gzerror(f, &err);
    gzclose(f);
    return n == 0 && (err == Z_OK || err == Z_STREAM_END);
}

uint64_t now_ns() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

void usage() {
    std::fprintf(stderr, "usage: decode-baseline --input FILE [--passes N] [--json]\n");
}

}  // namespace

int main(int argc, char **argv) {
    const char *input = nullptr;
    int passes = 7;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (!std::strcmp(argv[i], "--input") && i + 1 < argc) input = argv[++i];
        else if (!std::strcmp(argv[i], "--passes") && i + 1 < argc) passes = std::atoi(argv[++i]);
        else if (!std::strcmp(argv[i], "--json")) json = true;
        else { usage(); return 2; }
    }
    if (!input || passes < 1) { usage(); return 2; }

    std::string raw;
    if (!read_all(input, raw)) {
        std::fprintf(stderr, "decode-baseline: cannot read %s\n", input);
        return 2;
    }

    // Arena: each message followed by SIMDJSON_PADDING bytes, as iterate() requires.
    std::vector<char> arena;
    arena.reserve(raw.size() + 1024 * SIMDJSON_PADDING);
    struct Span { size_t offset, length; };
    std::vector<Span> messages;
    size_t pos = 0;
    while (pos < raw.size()) {
        size_t eol = raw.find('\n', pos);
        if (eol == std::string::npos) eol = raw.size();
        size_t space = raw.find(' ', pos);
        if (space != std::string::npos && space < eol) {
            size_t start = space + 1, len = eol - start;
            if (len && raw[start + len - 1] == '\r') len--;
            if (len) {
                messages.push_back({arena.size(), len});
                arena.insert(arena.end(), raw.begin() + static_cast<long>(start), raw.begin() + static_cast<long>(start + len));
                arena.insert(arena.end(), SIMDJSON_PADDING, '\0');
            }
        }
        pos = eol + 1;
    }
    if (messages.empty()) {
        std::fprintf(stderr, "decode-baseline: no messages in %s\n", input);
        return 2;
    }

    ondemand::parser parser;
    size_t largest = 0;
    for (auto &m : messages) largest = std::max(largest, m.length);
    if (parser.allocate(largest + SIMDJSON_PADDING)) {
        std::fprintf(stderr, "decode-baseline: parser allocation failed\n");
        return 2;
    }

    // One untimed warm-up pass, then the timed passes.
    std::vector<uint64_t> pass_ns;
    Counts counts;
    uint64_t checksum = 0;
    uint64_t timed_allocations = 0;
    for (int pass = 0; pass <= passes; pass++) {
        Counts c;
        uint64_t sum = 0;
        const uint64_t allocations_before = g_allocations;
        const uint64_t t0 = now_ns();
        for (const auto &m : messages)
            decode_message(parser, arena.data() + m.offset, m.length, m.length + SIMDJSON_PADDING, c, sum);
        const uint64_t t1 = now_ns();
        const uint64_t allocations_after = g_allocations;
        if (pass > 0) {
            timed_allocations += allocations_after - allocations_before;
            pass_ns.push_back(t1 - t0);
        }
        if (pass > 0 && (pass > 1) && (sum != checksum || c.errors != counts.errors)) {
            std::fprintf(stderr, "decode-baseline: passes disagree\n");
            return 1;
        }
        counts = c;
        checksum = sum;
    }
    std::sort(pass_ns.begin(), pass_ns.end());
    const double median_ns = passes % 2 ? double(pass_ns[passes / 2])
                                        : (double(pass_ns[passes / 2 - 1]) + double(pass_ns[passes / 2])) / 2;
    const double n = double(messages.size());
    const double ns_per_message = median_ns / n;
    const double mps = n / (median_ns / 1e9);
    const double allocations_per_message = double(timed_allocations) / (n * passes);

    if (json) {
        std::printf("{\"impl\":\"simdjson-ondemand\",\"simdjson_version\":\"%s\",\"stage1\":\"%s\",\"ondemand\":\"%s\","
                    "\"messages\":%zu,\"passes\":%d,\"messages_per_second\":%.0f,\"ns_per_message\":%.2f,\"allocations_per_message\":%g,"
                    "\"trades\":%" PRIu64 ",\"book_tickers\":%" PRIu64 ",\"depth_updates\":%" PRIu64
                    ",\"depth_levels\":%" PRIu64 ",\"other\":%" PRIu64 ",\"errors\":%" PRIu64
                    ",\"checksum\":%" PRIu64 ",\"includes_book\":false}\n",
                    kSimdjsonVersion, simdjson::get_active_implementation()->name().c_str(), TL_STR(SIMDJSON_BUILTIN_IMPLEMENTATION),
                    messages.size(), passes, mps, ns_per_message, allocations_per_message, counts.trades, counts.book_tickers, counts.depth_updates, counts.depth_levels,
                    counts.other, counts.errors, checksum);
    } else {
        std::printf("simdjson %s On-Demand (stage 1: %s, on-demand: %s), %zu messages, median of %d passes\n",
                    kSimdjsonVersion, simdjson::get_active_implementation()->name().c_str(),
                    TL_STR(SIMDJSON_BUILTIN_IMPLEMENTATION), messages.size(), passes);
        std::printf("  %.0f messages/s, %.2f ns/message, %g allocations/message\n", mps, ns_per_message,
                    allocations_per_message);
        std::printf("  trades %" PRIu64 ", bookTicker %" PRIu64 ", depthUpdate %" PRIu64 " (%" PRIu64
                    " levels), other %" PRIu64 ", errors %" PRIu64 "\n",
                    counts.trades, counts.book_tickers, counts.depth_updates, counts.depth_levels, counts.other,
                    counts.errors);
        std::printf("  checksum %" PRIu64 "\n", checksum);
    }
    return 0;
}
