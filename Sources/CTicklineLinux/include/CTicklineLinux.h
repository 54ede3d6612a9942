// Small C helpers for what Swift cannot express: CPU_SET macros, async-signal-safe
// shutdown flags, thread naming. Every symbol is prefixed `tl_`.
#ifndef C_TICKLINE_LINUX_H
#define C_TICKLINE_LINUX_H

#include <stdint.h>
#include <sys/types.h>

/// Pins the calling thread to one CPU. Returns 0 or an errno value.
int tl_pin_current_thread(int cpu);
/// Pins the calling thread to a set of CPUs given as a bitmask array. Returns 0 or errno.
int tl_pin_current_thread_to_set(const int *cpus, int count);
/// The CPU the calling thread runs on now, or -1.
int tl_current_cpu(void);
/// Names the calling thread (truncated to 15 bytes, as the kernel allows). Returns 0 or errno.
int tl_name_current_thread(const char *name);
/// The kernel thread id of the caller.
pid_t tl_gettid(void);

/// Installs SIGINT/SIGTERM handlers that set a process-wide flag (async-signal-safe),
/// unblocks both on the calling thread (a parent may hand them down blocked) and ignores
/// SIGPIPE (a write to a closed socket or pipe fails with EPIPE instead). Returns 0 or errno.
int tl_install_signal_handlers(void);
/// The signal number that requested shutdown, or 0 if none has.
int tl_shutdown_signal(void);
/// Sets the shutdown flag as if `signo` had arrived (tests, programmatic stop).
void tl_request_shutdown(int signo);
/// Clears the shutdown flag (tests).
void tl_clear_shutdown(void);

/// Process start time in clock ticks since boot (field 22 of /proc/<pid>/stat), or 0 when
/// the process does not exist or the file cannot be read. Used to tell a live region
/// owner from a recycled pid.
uint64_t tl_process_start_ticks(pid_t pid);

/// Starts `path` with `argv` (NULL-terminated, argv[0] included) and this process's
/// environment: stdin from /dev/null, stdout and stderr appended to `log_path`, every signal
/// unblocked and at its default action, no descriptor but 0-2 inherited, a process group of
/// its own (the terminal's Ctrl-C goes to the caller alone), and SIGKILL as its
/// parent-death signal, so the child cannot outlive the thread that started it however this
/// process ends (exit, crash, SIGKILL). posix_spawn cannot set a parent-death signal, hence
/// fork + prctl + exec here, with only async-signal-safe calls in the child.
/// Returns 0 and the child's pid in `*pid`, or an errno value (the exec's own when it failed).
int tl_spawn_tied_to_caller(const char *path, char *const argv[], const char *log_path, pid_t *pid);

/// A hint that the caller spins (x86 `pause`): frees the pipeline for the sibling
/// hyperthread and lowers power while waiting.
static inline void tl_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

#endif
