#define _GNU_SOURCE
#include "CTicklineLinux.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int tl_pin_current_thread(int cpu) {
    return tl_pin_current_thread_to_set(&cpu, 1);
}

int tl_pin_current_thread_to_set(const int *cpus, int count) {
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int i = 0; i < count; i++) {
        if (cpus[i] < 0 || cpus[i] >= CPU_SETSIZE) return EINVAL;
        CPU_SET(cpus[i], &set);
    }
    return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

int tl_current_cpu(void) { return sched_getcpu(); }

int tl_name_current_thread(const char *name) {
    char buf[16];
    strncpy(buf, name, sizeof(buf) - 1);
    buf[sizeof(buf) - 1] = 0;
    return pthread_setname_np(pthread_self(), buf);
}

pid_t tl_gettid(void) { return (pid_t)syscall(SYS_gettid); }

static volatile sig_atomic_t tl_shutdown_signo = 0;

static void tl_on_shutdown_signal(int signo) { tl_shutdown_signo = signo; }

int tl_install_shutdown_handlers(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = tl_on_shutdown_signal;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGINT, &sa, NULL) != 0) return errno;
    if (sigaction(SIGTERM, &sa, NULL) != 0) return errno;
    /* A parent may hand down a mask that blocks them (a test runner's thread, some
       supervisors): a blocked SIGTERM would stay pending and the process never stop. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    return pthread_sigmask(SIG_UNBLOCK, &stop, NULL);
}

int tl_shutdown_signal(void) { return tl_shutdown_signo; }
void tl_request_shutdown(int signo) { tl_shutdown_signo = signo; }
void tl_clear_shutdown(void) { tl_shutdown_signo = 0; }

uint64_t tl_process_start_ticks(pid_t pid) {
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char buf[1024];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    // The command name (field 2) may hold spaces and parentheses: fields resume after the last ')'.
    char *p = strrchr(buf, ')');
    if (!p) return 0;
    p += 2; // skip ") " -> field 3
    int field = 3;
    while (*p && field < 22) {
        if (*p == ' ') field++;
        p++;
    }
    unsigned long long ticks = 0;
    if (sscanf(p, "%llu", &ticks) != 1) return 0;
    return (uint64_t)ticks;
}
