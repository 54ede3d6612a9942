/*
 * spsc_baseline.c - C11 baseline for `tickline bench ring`.
 *
 * One single-producer/single-consumer ring of 64-byte slots in a POSIX shared
 * memory region, shared by two processes (fork): the parent produces on one
 * CPU, the child consumes on another. It does the same work as the Swift
 * benchmark so the two figures can be compared:
 *
 *   phase 1 (throughput): push --messages sequence numbers as fast as possible;
 *     elapsed = producer's CLOCK_MONOTONIC just before the first push ..
 *     consumer's CLOCK_MONOTONIC just after the last pop.
 *   phase 2 (paced latency): --paced messages, one every --interval-ns, each
 *     stamped with CLOCK_MONOTONIC just before the push; the consumer records
 *     (CLOCK_MONOTONIC just after the pop) - stamp. The first 1% is warm-up.
 *
 * Build: gcc -O2 -std=c11 -D_GNU_SOURCE -o spsc-baseline spsc_baseline.c
 * (Benchmarks/ring-compare does this.)
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- Shared layout (crosses the process boundary; declared once) ---------- */

#define LAYOUT_VERSION 1u
#define LINE 128u /* cursor isolation: 128 bytes covers the adjacent-line prefetcher */
#define SLOT 64u
#define BATCH 256u /* phase 1: most records released per consumer cursor store */

/* Written by the consumer, read by the producer. */
struct control {
    /* Consumer sets 1 (release) once it has mapped and pre-faulted the region
     * and is about to spin on the ring; pairs with the producer's acquire
     * before it reads its start time. */
    _Atomic uint32_t consumer_ready;
    uint32_t layout_version; /* written by the producer before fork */
    /* Results, plain fields: the producer reads them only after waitpid(). */
    uint64_t phase1_end_ns;  /* consumer's clock right after the last phase-1 pop */
    uint64_t seq_errors;     /* pops whose sequence != expected */
    uint64_t sum;            /* sum of all popped sequence numbers, mod 2^64 */
    uint64_t samples;        /* latency samples kept (after warm-up) */
    uint64_t p50_ns, p99_ns, p999_ns;
    uint64_t preempted;      /* consumer's involuntary context switches (noise indicator) */
};

struct region {
    alignas(LINE) struct control ctl;
    /* Producer cursor: next sequence to publish. Written (release) only by the producer. */
    alignas(LINE) _Atomic uint64_t producer_cursor;
    /* Consumer cursor: next sequence to read. Written (release) only by the consumer. */
    alignas(LINE) _Atomic uint64_t consumer_cursor;
    alignas(LINE) unsigned char slots[]; /* capacity * SLOT bytes */
};

_Static_assert(sizeof(struct control) <= LINE, "control block fits one line");
_Static_assert(offsetof(struct region, ctl) == 0, "control at 0");
_Static_assert(offsetof(struct region, producer_cursor) == 1 * LINE, "producer cursor on its own line");
_Static_assert(offsetof(struct region, consumer_cursor) == 2 * LINE, "consumer cursor on its own line");
_Static_assert(offsetof(struct region, slots) == 3 * LINE, "slots after the cursor lines");
_Static_assert(sizeof(_Atomic uint64_t) == 8, "lock-free 64-bit cursor");

/* Slot byte offsets. */
#define SLOT_SEQ 0u   /* uint64 sequence number */
#define SLOT_TS 8u    /* uint64 CLOCK_MONOTONIC ns (phase 2) */
#define SLOT_SEQ2 56u /* uint64 sequence again, so the whole line is written */

/* ---- Options -------------------------------------------------------------- */

struct options {
    uint64_t messages, paced, interval_ns, capacity;
    int producer_cpu, consumer_cpu, json;
};

static char shm_name[64];
static volatile sig_atomic_t shm_named = 0;
static volatile pid_t consumer_pid = 0; /* set in the producer after fork */

static void unlink_shm(void)
{
    if (shm_named) {
        shm_named = 0;
        shm_unlink(shm_name);
    }
}

static void on_signal(int sig)
{
    unlink_shm();
    if (consumer_pid > 0) { /* reap the consumer rather than leave an orphan */
        kill(consumer_pid, SIGKILL);
        waitpid(consumer_pid, NULL, 0);
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

static void die(const char *what)
{
    fprintf(stderr, "spsc-baseline: %s: %s\n", what, strerror(errno));
    exit(2);
}

static void usage(const char *bad)
{
    if (bad)
        fprintf(stderr, "spsc-baseline: bad argument: %s\n", bad);
    fprintf(stderr,
            "usage: spsc-baseline [--messages N] [--paced N] [--interval-ns N] [--capacity N]\n"
            "                     [--producer-cpu N] [--consumer-cpu N] [--json]\n"
            "defaults: --messages 20000000 --paced 200000 --interval-ns 5000 --capacity 65536\n"
            "          --producer-cpu 0 --consumer-cpu 1\n");
    exit(2);
}

static uint64_t parse_u64(const char *flag, const char *s)
{
    char *end;
    if (!s || !*s || *s == '-')
        usage(flag);
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        usage(s);
    return (uint64_t)v;
}

static struct options parse(int argc, char **argv)
{
    struct options o = {20000000u, 200000u, 5000u, 65536u, 0, 1, 0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *eq = strchr(a, '=');
        size_t n = eq ? (size_t)(eq - a) : strlen(a);
        if (n == 6 && !strncmp(a, "--json", n) && !eq) {
            o.json = 1;
            continue;
        }
        if (!strcmp(a, "-h") || !strcmp(a, "--help"))
            usage(NULL);
        const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
#define FLAG(name) (n == sizeof(name) - 1 && !strncmp(a, name, n))
        if (FLAG("--messages")) o.messages = parse_u64(a, v);
        else if (FLAG("--paced")) o.paced = parse_u64(a, v);
        else if (FLAG("--interval-ns")) o.interval_ns = parse_u64(a, v);
        else if (FLAG("--capacity")) o.capacity = parse_u64(a, v);
        else if (FLAG("--producer-cpu")) o.producer_cpu = (int)parse_u64(a, v);
        else if (FLAG("--consumer-cpu")) o.consumer_cpu = (int)parse_u64(a, v);
        else usage(a);
#undef FLAG
    }
    if (o.capacity < 2 || (o.capacity & (o.capacity - 1)) || o.capacity > (1ull << 32))
        usage("--capacity must be a power of two in [2, 2^32]");
    if (o.messages == 0)
        usage("--messages must be >= 1");
    if (o.producer_cpu >= CPU_SETSIZE || o.consumer_cpu >= CPU_SETSIZE)
        usage("cpu out of range");
    return o;
}

/* ---- Helpers ---------------------------------------------------------------- */

static inline uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void pin(int cpu, const char *role)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) {
        fprintf(stderr, "spsc-baseline: cannot pin %s to CPU %d: %s\n", role, cpu, strerror(errno));
        exit(2);
    }
}

/* Touch every page with a write so neither side takes a fault in the timed loops. */
static void prefault(void *base, size_t len)
{
    long page = sysconf(_SC_PAGESIZE);
    volatile unsigned char *p = base;
    for (size_t off = 0; off < len; off += (size_t)page)
        p[off] = p[off];
}


/* One 64-byte message. The Swift bench copies a whole message into the slot on push
 * and out of it on pop (tryPush/tryPop), checking both sequence fields: so does this. */
struct message { uint64_t seq, ts, pad[5], seq2; };
_Static_assert(sizeof(struct message) == SLOT, "message fills the slot");
_Static_assert(offsetof(struct message, seq2) == SLOT_SEQ2, "seq2 offset");
static inline void put_message(unsigned char *slot, uint64_t seq, uint64_t ts) {
    struct message m = { .seq = seq, .ts = ts, .seq2 = seq };
    memcpy(slot, &m, sizeof m);
}
static inline struct message get_message(const unsigned char *slot) {
    struct message m;
    memcpy(&m, slot, sizeof m);
    return m;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Value at index ceil(p*n)-1 of the sorted samples, p = permille/1000. */
static uint64_t percentile(const uint64_t *sorted, uint64_t n, uint64_t permille)
{
    if (n == 0)
        return 0;
    uint64_t rank = (n * permille + 999) / 1000; /* ceil(n * p) */
    return sorted[rank ? rank - 1 : 0];
}

/* 0 + 1 + ... + (t-1) mod 2^64, without overflowing before the division. */
static uint64_t triangular(uint64_t t)
{
    return (t % 2 == 0) ? (t / 2) * (t - 1) : t * ((t - 1) / 2);
}

/* Times this process was preempted: another task ran on its CPU (a noise indicator). */
static uint64_t involuntary_switches(void)
{
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) == 0 ? (uint64_t)ru.ru_nivcsw : 0;
}

/* ---- Consumer (child process) -------------------------------------------- */

static int run_consumer(const struct options *o, size_t len)
{
    /* Die with the producer, so a crashed parent never leaves a spinning child. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() == 1)
        return 2; /* the producer died before prctl took effect */
    pin(o->consumer_cpu, "consumer");

    /* Attach by name, as an independent consumer process would. */
    int fd = shm_open(shm_name, O_RDWR, 0);
    if (fd < 0)
        die("consumer shm_open");
    struct region *r = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (r == MAP_FAILED)
        die("consumer mmap");
    close(fd);
    if (r->ctl.layout_version != LAYOUT_VERSION) {
        fprintf(stderr, "spsc-baseline: layout version %u, expected %u\n", r->ctl.layout_version,
                LAYOUT_VERSION);
        return 2;
    }
    prefault(r, len); /* safe: the producer does not write until consumer_ready */

    uint64_t skip = o->paced / 100; /* warm-up: first 1% of paced samples */
    uint64_t kept = o->paced - skip;
    uint64_t *lat = malloc((kept ? kept : 1) * sizeof *lat);
    if (!lat)
        die("malloc samples");
    memset(lat, 0, (kept ? kept : 1) * sizeof *lat); /* pre-fault */

    const uint64_t mask = o->capacity - 1;
    unsigned char *const slots = r->slots;
    uint64_t head = 0;      /* local copy of our own cursor */
    uint64_t tail_cache = 0; /* cached producer cursor */
    uint64_t errors = 0, sum = 0;

    /* Ready: mapped, pre-faulted, about to spin. Pairs with the producer's acquire. */
    atomic_store_explicit(&r->ctl.consumer_ready, 1, memory_order_release);

    /* Phase 1: throughput. The consumer drains in batches of up to BATCH and releases
     * each batch with one cursor store, as tickline's `drain(limit:)` and its agents do:
     * no per-message ping-pong of the consumer cursor line. */
    const uint64_t n1 = o->messages;
    while (head < n1) {
        uint64_t avail = tail_cache - head;
        if (avail < BATCH) {
            /* Fewer than a batch cached: re-read the producer cursor. Pairs with the producer's release store. */
            tail_cache = atomic_load_explicit(&r->producer_cursor, memory_order_acquire);
            avail = tail_cache - head;
        }
        if (avail == 0)
            continue;
        if (avail > BATCH)
            avail = BATCH;
        if (avail > n1 - head)
            avail = n1 - head;
        for (uint64_t k = 0; k < avail; k++) {
            struct message m = get_message(slots + ((head + k) & mask) * SLOT);
            errors += (m.seq != head + k) | (m.seq2 != head + k);
            sum += m.seq;
        }
        head += avail;
        /* Batch consumed: release it to the producer. Pairs with the producer's acquire on full. */
        atomic_store_explicit(&r->consumer_cursor, head, memory_order_release);
    }
    r->ctl.phase1_end_ns = now_ns();

    /* Phase 2: paced latency. Sequence numbers continue from n1. */
    const uint64_t total = n1 + o->paced;
    uint64_t i = 0;
    while (head < total) {
        if (head == tail_cache) {
            tail_cache = atomic_load_explicit(&r->producer_cursor, memory_order_acquire);
            if (head == tail_cache)
                continue;
        }
        struct message m = get_message(slots + (head & mask) * SLOT);
        uint64_t sent = m.ts;
        errors += (m.seq != head) | (m.seq2 != head);
        sum += m.seq;
        atomic_store_explicit(&r->consumer_cursor, ++head, memory_order_release);
        uint64_t t = now_ns(); /* immediately after the pop */
        if (i >= skip)
            lat[i - skip] = t - sent;
        i++;
    }

    qsort(lat, kept, sizeof *lat, cmp_u64);
    r->ctl.seq_errors = errors;
    r->ctl.sum = sum;
    r->ctl.samples = kept;
    r->ctl.p50_ns = percentile(lat, kept, 500);
    r->ctl.p99_ns = percentile(lat, kept, 990);
    r->ctl.p999_ns = percentile(lat, kept, 999);
    r->ctl.preempted = involuntary_switches();
    free(lat);
    return 0;
}

/* ---- Producer (parent process) ------------------------------------------- */

/* While spinning, check for a dead consumer once every 2^20 spins. */
#define SPIN_CHECK_MASK 0xFFFFFu

/* Non-zero if the consumer has exited (so a spin on "full" or "not ready" gives up). */
static int consumer_gone(pid_t child, int *status)
{
    return waitpid(child, status, WNOHANG) == child;
}

int main(int argc, char **argv)
{
    struct options o = parse(argc, argv);
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    const size_t len = (offsetof(struct region, slots) + o.capacity * SLOT + page - 1) / page * page;

    pin(o.producer_cpu, "producer"); /* before fork; the child re-pins itself */

    snprintf(shm_name, sizeof shm_name, "/tickline-spsc-baseline-%ld", (long)getpid());
    int fd = shm_open(shm_name, O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd < 0)
        die("shm_open");
    shm_named = 1;
    atexit(unlink_shm);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGHUP, on_signal);
    if (ftruncate(fd, (off_t)len) != 0)
        die("ftruncate");
    struct region *r = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (r == MAP_FAILED)
        die("mmap");
    close(fd);
    prefault(r, len);
    r->ctl.layout_version = LAYOUT_VERSION;
    atomic_store_explicit(&r->ctl.consumer_ready, 0, memory_order_relaxed);
    atomic_store_explicit(&r->producer_cursor, 0, memory_order_relaxed);
    atomic_store_explicit(&r->consumer_cursor, 0, memory_order_relaxed);
    fflush(NULL);

    pid_t child = fork();
    if (child < 0)
        die("fork");
    if (child == 0) {
        shm_named = 0; /* the parent owns the name */
        _exit(run_consumer(&o, len));
    }
    consumer_pid = child;

    int status = 0, reaped = 0;
    /* Wait for the consumer to attach. Pairs with its release store of consumer_ready. */
    while (!atomic_load_explicit(&r->ctl.consumer_ready, memory_order_acquire)) {
        if (consumer_gone(child, &status)) {
            fprintf(stderr, "spsc-baseline: consumer exited before it was ready\n");
            return 1;
        }
    }
    unlink_shm(); /* both sides are mapped: the name is no longer needed */

    const uint64_t mask = o.capacity - 1, cap = o.capacity;
    unsigned char *const slots = r->slots;
    uint64_t tail = 0;      /* local copy of our own cursor */
    uint64_t head_cache = 0; /* cached consumer cursor */
    uint32_t spins = 0;

    /* Phase 1: throughput. */
    const uint64_t n1 = o.messages;
    const uint64_t t0 = now_ns();
    while (tail < n1) {
        if (tail - head_cache == cap) {
            /* Looks full: re-read the consumer cursor. Pairs with the consumer's release store. */
            head_cache = atomic_load_explicit(&r->consumer_cursor, memory_order_acquire);
            if (tail - head_cache == cap) {
                if ((++spins & SPIN_CHECK_MASK) == 0 && consumer_gone(child, &status)) { reaped = 1; break; }
                continue;
            }
        }
        put_message(slots + (tail & mask) * SLOT, tail, 0);
        /* Publish the slot. Pairs with the consumer's acquire when it looks empty. */
        atomic_store_explicit(&r->producer_cursor, ++tail, memory_order_release);
    }

    /* Let the consumer drain phase 1 so phase 2 starts on an empty ring. */
    while (!reaped && atomic_load_explicit(&r->consumer_cursor, memory_order_acquire) != n1) {
        if ((++spins & SPIN_CHECK_MASK) == 0 && consumer_gone(child, &status)) reaped = 1;
    }

    /* Phase 2: paced latency, one message per deadline on a fixed schedule. */
    const uint64_t total = n1 + o.paced;
    uint64_t deadline = now_ns() + o.interval_ns;
    while (!reaped && tail < total) {
        while (now_ns() < deadline) { }
        deadline += o.interval_ns;
        uint64_t sent = now_ns(); /* immediately before the push */
        while (tail - head_cache == cap) {
            head_cache = atomic_load_explicit(&r->consumer_cursor, memory_order_acquire);
            if ((++spins & SPIN_CHECK_MASK) == 0 && consumer_gone(child, &status)) { reaped = 1; break; }
        }
        if (reaped)
            break;
        put_message(slots + (tail & mask) * SLOT, tail, sent);
        atomic_store_explicit(&r->producer_cursor, ++tail, memory_order_release);
    }

    const uint64_t producer_preempted = involuntary_switches();
    if (!reaped && waitpid(child, &status, 0) != child)
        die("waitpid");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        if (WIFSIGNALED(status))
            fprintf(stderr, "spsc-baseline: consumer killed by signal %d\n", WTERMSIG(status));
        else
            fprintf(stderr, "spsc-baseline: consumer exited with status %d\n", WEXITSTATUS(status));
        return 1;
    }
    if (tail != total) {
        fprintf(stderr, "spsc-baseline: consumer exited after %" PRIu64 " of %" PRIu64 " messages\n",
                tail, total);
        return 1;
    }

    /* waitpid() orders the consumer's plain result writes before these reads. */
    const struct control *c = &r->ctl;
    uint64_t elapsed = c->phase1_end_ns - t0;
    double mps = elapsed ? (double)n1 * 1e9 / (double)elapsed : 0.0;
    uint64_t sum_bad = c->sum != triangular(total);
    uint64_t errors = c->seq_errors + sum_bad;

    if (o.json) {
        printf("{\"messages\":%" PRIu64 ",\"messages_per_second\":%.1f,\"hop_p50_ns\":%" PRIu64
               ",\"hop_p99_ns\":%" PRIu64 ",\"hop_p999_ns\":%" PRIu64 ",\"errors\":%" PRIu64 "}\n",
               n1, mps, c->p50_ns, c->p99_ns, c->p999_ns, errors);
    } else {
        printf("spsc-baseline (C11): capacity %" PRIu64 " x %u B slots, producer CPU %d, consumer CPU %d\n",
               o.capacity, SLOT, o.producer_cpu, o.consumer_cpu);
        printf("  throughput: %" PRIu64 " messages in %.3f ms = %.2f M msg/s\n", n1, elapsed / 1e6,
               mps / 1e6);
        printf("  hop latency: %" PRIu64 " paced samples every %" PRIu64 " ns (%" PRIu64
               " warm-up skipped): p50 %" PRIu64 " ns, p99 %" PRIu64 " ns, p99.9 %" PRIu64 " ns\n",
               c->samples, o.interval_ns, o.paced - c->samples, c->p50_ns, c->p99_ns, c->p999_ns);
        printf("  errors: %" PRIu64 " (sequence mismatches %" PRIu64 ", sum %s)\n", errors,
               c->seq_errors, sum_bad ? "MISMATCH" : "ok");
        printf("  preempted (involuntary context switches): producer %" PRIu64 ", consumer %" PRIu64
               "%s\n", producer_preempted, c->preempted,
               producer_preempted + c->preempted ? " - other tasks shared the CPUs" : "");
    }
    munmap(r, len);
    return errors ? 1 : 0;
}
