#define _GNU_SOURCE
#include "CTicklineLinux.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
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

int tl_install_signal_handlers(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = tl_on_shutdown_signal;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGINT, &sa, NULL) != 0) return errno;
    if (sigaction(SIGTERM, &sa, NULL) != 0) return errno;
    /* A peer that closed its socket (Redis restarted, a dashboard tab closed, a feed client
       gone) must give the writing call EPIPE to handle, not kill the process. */
    struct sigaction ignore;
    memset(&ignore, 0, sizeof(ignore));
    ignore.sa_handler = SIG_IGN;
    sigemptyset(&ignore.sa_mask);
    if (sigaction(SIGPIPE, &ignore, NULL) != 0) return errno;
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

int tl_spawn_tied_to_caller(const char *path, char *const argv[], const char *log_path, pid_t *pid) {
    // The child reports a failure before or at exec through this pipe; a successful exec
    // closes it (O_CLOEXEC) and the parent reads end-of-file.
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) return errno;
    pid_t parent = getpid();
    pid_t child = fork();
    if (child < 0) {
        int e = errno;
        close(report[0]);
        close(report[1]);
        return e;
    }
    if (child == 0) {
        int err = 0;
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) {
            err = errno;
        } else if (getppid() != parent) {
            _exit(127);  // the parent died before the death signal was armed
        }
        // Its own process group: Ctrl-C at the terminal reaches the parent, which then stops
        // the child in order, instead of killing it mid-write.
        if (err == 0 && setpgid(0, 0) != 0) err = errno;
        if (err == 0) {
            struct sigaction dfl;
            memset(&dfl, 0, sizeof(dfl));
            dfl.sa_handler = SIG_DFL;
            for (int s = 1; s < NSIG; s++) sigaction(s, &dfl, NULL);  // SIGKILL/SIGSTOP refuse: fine
            sigset_t none;
            sigemptyset(&none);
            sigprocmask(SIG_SETMASK, &none, NULL);
            int in = open("/dev/null", O_RDONLY);
            int log = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
            if (in < 0 || log < 0) {
                err = errno;
            } else if (dup2(in, 0) < 0 || dup2(log, 1) < 0 || dup2(log, 2) < 0) {
                err = errno;
            }
        }
        if (err == 0) {
            // Sockets and files of this process (the control plane's listener, the region)
            // are not the child's; an old kernel without close_range leaves them open, harmlessly.
            syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
            execv(path, argv);
            err = errno;
        }
        ssize_t w = write(report[1], &err, sizeof(err));
        (void)w;
        _exit(127);
    }
    close(report[1]);
    int err = 0;
    ssize_t n;
    do {
        n = read(report[0], &err, sizeof(err));
    } while (n < 0 && errno == EINTR);
    close(report[0]);
    if (n == (ssize_t)sizeof(err)) {
        int status;
        while (waitpid(child, &status, 0) < 0 && errno == EINTR) {}
        return err ? err : ECHILD;
    }
    *pid = child;
    return 0;
}
