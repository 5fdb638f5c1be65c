// signals: delivery of signals to handlers, masks, waiting for signals, and synchronous
// faults turned into signals the program handles.
//   - SA_SIGINFO handlers see si_signo, si_code (SI_TKILL for raise/tgkill/tkill/pthread_kill,
//     SI_USER for kill, SI_QUEUE + si_value for sigqueue), si_pid and si_uid; kill(pid, 0);
//     EINVAL for bad signal numbers and for SIGKILL/SIGSTOP actions; sigaction round trip
//   - sigprocmask blocking, sigpending, delivery on unblock; standard signals coalesce, queued
//     real-time signals are delivered in order (lowest number first, FIFO per signal);
//     SIGKILL/SIGSTOP cannot be blocked
//   - sigsuspend (pending signal, and an itimer arriving later), mask restored afterwards
//   - sigtimedwait/sigwaitinfo/sigwait: pending signal taken without its handler, timeout ->
//     EAGAIN, zero timeout, a queued real-time signal's value
//   - SA_RESETHAND (handler reset to SIG_DFL), SA_NODEFER (nested delivery) versus the default
//     (signal and sa_mask blocked in the handler)
//   - SIGSEGV: a handler mprotects the page and the faulting write completes (PROT_NONE and
//     read-only pages, si_addr and SEGV_ACCERR); a handler that edits the ucontext (RIP past a
//     3-byte load, RAX set), with SEGV_MAPERR, REG_TRAPNO 14 and the REG_ERR write bit
//   - sigaltstack: SA_ONSTACK handlers run on it (SS_ONSTACK), a thread's stack overflow caught
//     on its alternate stack and left with siglongjmp; SS_DISABLE; too small -> ENOMEM
//   - SIGFPE (divide by zero, INT_MIN / -1) left with siglongjmp, FPE_INTDIV, mask restored;
//     SIGILL from ud2 (ILL_ILLOPN, resumed past it); SIGTRAP from int3 (SI_KERNEL, resumed)
//   - registers (r8-r11, xmm7) restored after a handler that clobbered them
//   - alarm() interrupting a blocking pipe read with EINTR (no SA_RESTART); with SA_RESTART the
//     read restarts and gets the byte the handler wrote; ITIMER_REAL periodic ticks; SIGPIPE
//   - pthread_kill runs the handler on that thread; a process-directed kill() goes to the one
//     thread that has the signal unblocked, or to a thread in sigwaitinfo; masks are inherited
//   - default-ignored signals (SIGCHLD, SIGURG, SIGWINCH) and SIG_IGN do nothing; a blocked
//     ignored signal stays pending and is discarded on unblock; SIG_IGN discards a pending one
// Output: fixed lines of names, counts and ok. A failed check prints FAIL, a line on stderr,
// and the exit status is 1.
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <semaphore.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "checks.h"

// Prints "what text"; a text other than want is a failure.
static void check_text(const char *what, const char *got, const char *want) {
    printf("%s %s\n", what, got);
    if (strcmp(got, want) != 0) {
        fprintf(stderr, "FAIL: %s: got '%s', expected '%s'\n", what, got, want);
        failures++;
    }
}

static pid_t gettid_(void) { return (pid_t)syscall(SYS_gettid); }

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void install(int sig, void (*fn)(int, siginfo_t *, void *), int flags, const sigset_t *mask) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = fn;
    sa.sa_flags = SA_SIGINFO | flags;
    if (mask) sa.sa_mask = *mask;
    else sigemptyset(&sa.sa_mask);
    if (sigaction(sig, &sa, NULL) != 0) fatal("sigaction");
}

static void set_handler(int sig, void (*fn)(int)) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fn;
    sigemptyset(&sa.sa_mask);
    if (sigaction(sig, &sa, NULL) != 0) fatal("sigaction");
}

static void mask(int how, int sig) {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, sig);
    pthread_sigmask(how, &s, NULL);
}

static int is_blocked(int sig) {
    sigset_t cur;
    pthread_sigmask(SIG_SETMASK, NULL, &cur);
    return sigismember(&cur, sig);
}

static int is_pending(int sig) {
    sigset_t p;
    sigpending(&p);
    return sigismember(&p, sig);
}

static const char *code_name(int code) {
    switch (code) {
    case SI_USER: return "SI_USER";
    case SI_TKILL: return "SI_TKILL";
    case SI_QUEUE: return "SI_QUEUE";
    case SI_KERNEL: return "SI_KERNEL";
    case SI_TIMER: return "SI_TIMER";
    default: return "other";
    }
}

static const char *sig_name(int sig) {
    if (sig == SIGUSR1) return "SIGUSR1";
    if (sig == SIGUSR2) return "SIGUSR2";
    if (sig == SIGALRM) return "SIGALRM";
    if (sig == SIGRTMIN + 3) return "SIGRTMIN+3";
    return "other";
}

// --- What the general SA_SIGINFO handler saw ----------------------------------------------

static struct {
    volatile int count, signo, code, value;
    volatile pid_t pid;
    volatile uid_t uid;
    volatile pthread_t thread;
} seen;

static void record(int sig, siginfo_t *si, void *uc) {
    (void)uc;
    seen.signo = sig == si->si_signo ? sig : -1;
    seen.code = si->si_code;
    seen.pid = si->si_pid;
    seen.uid = si->si_uid;
    seen.value = si->si_code == SI_QUEUE ? si->si_value.sival_int : 0;
    seen.thread = pthread_self();
    __atomic_fetch_add(&seen.count, 1, __ATOMIC_SEQ_CST);
}

static void reset_seen(void) {
    seen.count = 0;
    seen.signo = seen.code = seen.value = 0;
    seen.pid = 0;
    seen.uid = (uid_t)-1;
}

// "runs 1 SIGUSR1 SI_TKILL pid self uid self"
static const char *describe_seen(void) {
    static char buf[128];
    snprintf(buf, sizeof buf, "runs %d %s %s pid %s uid %s", seen.count, sig_name(seen.signo),
             code_name(seen.code), seen.pid == getpid() ? "self" : "other",
             seen.uid == getuid() ? "self" : "other");
    return buf;
}

static void test_send_to_self(void) {
    install(SIGUSR1, record, 0, NULL);
    const char *want_tkill = "runs 1 SIGUSR1 SI_TKILL pid self uid self";

    reset_seen();
    raise(SIGUSR1);
    check_text("raise:", describe_seen(), want_tkill);
    reset_seen();
    kill(getpid(), SIGUSR1);
    check_text("kill(getpid()):", describe_seen(), "runs 1 SIGUSR1 SI_USER pid self uid self");
    reset_seen();
    syscall(SYS_tgkill, getpid(), gettid_(), SIGUSR1);
    check_text("tgkill:", describe_seen(), want_tkill);
    reset_seen();
    syscall(SYS_tkill, gettid_(), SIGUSR1);
    check_text("tkill:", describe_seen(), want_tkill);
    reset_seen();
    pthread_kill(pthread_self(), SIGUSR1);
    check_text("pthread_kill(self):", describe_seen(), want_tkill);
    reset_seen();
    union sigval v = {.sival_int = 42};
    sigqueue(getpid(), SIGUSR1, v);
    check_text("sigqueue:", describe_seen(), "runs 1 SIGUSR1 SI_QUEUE pid self uid self");
    check_value("sigqueue: si_value", seen.value, 42);

    reset_seen();
    check("kill(getpid(), 0): 0, no signal", kill(getpid(), 0) == 0 && seen.count == 0);
    errno = 0;
    check("kill with signal 65: EINVAL", kill(getpid(), 65) == -1 && errno == EINVAL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    errno = 0;
    check("sigaction(SIGKILL): EINVAL", sigaction(SIGKILL, &sa, NULL) == -1 && errno == EINVAL);
    errno = 0;
    check("sigaction(SIGSTOP): EINVAL", sigaction(SIGSTOP, &sa, NULL) == -1 && errno == EINVAL);

    // The action round trip: flags and mask as installed.
    sigset_t m;
    sigemptyset(&m);
    sigaddset(&m, SIGUSR2);
    sigaddset(&m, SIGRTMIN + 5);
    install(SIGUSR1, record, SA_RESTART | SA_ONSTACK, &m);
    struct sigaction old;
    sigaction(SIGUSR1, NULL, &old);
    int flags = old.sa_flags & (SA_SIGINFO | SA_RESTART | SA_ONSTACK | SA_NODEFER | SA_RESETHAND);
    check("sigaction query: handler, flags and mask as installed",
          old.sa_sigaction == record && flags == (SA_SIGINFO | SA_RESTART | SA_ONSTACK) &&
              sigismember(&old.sa_mask, SIGUSR2) && sigismember(&old.sa_mask, SIGRTMIN + 5) &&
              !sigismember(&old.sa_mask, SIGUSR1));
    install(SIGUSR1, record, 0, NULL);
}

// --- Masks and pending signals ---------------------------------------------------------------

// The real-time deliveries in order: (signal - SIGRTMIN, si_value) pairs.
static volatile int rt_seen[16][2];
static volatile int rt_count;

static void record_rt(int sig, siginfo_t *si, void *uc) {
    (void)uc;
    if (rt_count < 16) {
        rt_seen[rt_count][0] = sig - SIGRTMIN;
        rt_seen[rt_count][1] = si->si_value.sival_int;
        rt_count++;
    }
}

static void test_mask_and_pending(void) {
    install(SIGUSR2, record, 0, NULL);
    reset_seen();
    mask(SIG_BLOCK, SIGUSR2);
    raise(SIGUSR2);
    raise(SIGUSR2);
    check("blocked SIGUSR2 raised twice: handler not run, sigpending has it",
          seen.count == 0 && is_pending(SIGUSR2));
    mask(SIG_UNBLOCK, SIGUSR2);
    check_value("SIGUSR2 unblocked: handler runs (standard signals do not queue)", seen.count, 1);
    check("SIGUSR2 no longer pending", !is_pending(SIGUSR2));

    // Real-time signals queue: FIFO per signal, lowest number first. The handler blocks both
    // so that one delivery does not nest inside another.
    int r1 = SIGRTMIN + 1, r2 = SIGRTMIN + 2;
    sigset_t both;
    sigemptyset(&both);
    sigaddset(&both, r1);
    sigaddset(&both, r2);
    install(r1, record_rt, 0, &both);
    install(r2, record_rt, 0, &both);
    pthread_sigmask(SIG_BLOCK, &both, NULL);
    rt_count = 0;
    union sigval v;
    v.sival_int = 1;
    sigqueue(getpid(), r2, v);
    for (int i = 2; i <= 4; i++) {
        v.sival_int = i;
        sigqueue(getpid(), r1, v);
    }
    check("queued real-time signals: none delivered while blocked", rt_count == 0);
    pthread_sigmask(SIG_UNBLOCK, &both, NULL);
    char rt_order[128] = "";
    for (int i = 0; i < rt_count; i++)
        snprintf(rt_order + strlen(rt_order), sizeof rt_order - strlen(rt_order), " RTMIN+%d:%d",
                 rt_seen[i][0], rt_seen[i][1]);
    check_text("real-time signals delivered on unblock:", rt_order, " RTMIN+1:2 RTMIN+1:3 RTMIN+1:4 RTMIN+2:1");

    sigset_t s, old, cur;
    sigemptyset(&s);
    sigaddset(&s, SIGKILL);
    sigaddset(&s, SIGSTOP);
    sigaddset(&s, SIGUSR1);
    sigprocmask(SIG_BLOCK, &s, &old);
    sigprocmask(SIG_SETMASK, &old, &cur);
    check("sigprocmask cannot block SIGKILL or SIGSTOP",
          !sigismember(&cur, SIGKILL) && !sigismember(&cur, SIGSTOP) && sigismember(&cur, SIGUSR1));
    check("SIG_SETMASK restored the old mask", !is_blocked(SIGUSR1));
}

// --- sigsuspend and sigwait ------------------------------------------------------------------

static volatile int alarm_count;

static void on_alarm(int sig) {
    (void)sig;
    alarm_count++;
}

static void test_sigsuspend(void) {
    install(SIGUSR1, record, 0, NULL);
    reset_seen();
    mask(SIG_BLOCK, SIGUSR1);
    raise(SIGUSR1);
    sigset_t none;
    sigemptyset(&none);
    errno = 0;
    int rc = sigsuspend(&none);
    check("sigsuspend with SIGUSR1 pending: -1 EINTR after the handler ran",
          rc == -1 && errno == EINTR && seen.count == 1);
    check("sigsuspend restored the mask (SIGUSR1 blocked again)", is_blocked(SIGUSR1));
    mask(SIG_UNBLOCK, SIGUSR1);

    set_handler(SIGALRM, on_alarm);
    alarm_count = 0;
    mask(SIG_BLOCK, SIGALRM);
    struct itimerval it = {{0, 0}, {0, 20000}};
    setitimer(ITIMER_REAL, &it, NULL);
    errno = 0;
    rc = sigsuspend(&none);
    check("sigsuspend until a 20 ms ITIMER_REAL fires: EINTR, handler ran",
          rc == -1 && errno == EINTR && alarm_count == 1);
    mask(SIG_UNBLOCK, SIGALRM);
}

static void test_sigwait(void) {
    install(SIGUSR1, record, 0, NULL);
    reset_seen();
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    raise(SIGUSR1);
    siginfo_t info;
    memset(&info, 0, sizeof info);
    struct timespec one_s = {1, 0};
    int sig = sigtimedwait(&set, &info, &one_s);
    printf("sigtimedwait with SIGUSR1 pending: %s %s, handler runs %d\n", sig_name(sig),
           code_name(info.si_code), seen.count);
    // glibc's sigtimedwait reports SI_TKILL as SI_USER.
    if (sig != SIGUSR1 || (info.si_code != SI_TKILL && info.si_code != SI_USER) || info.si_pid != getpid() || seen.count != 0) {
        fprintf(stderr, "FAIL: sigtimedwait with SIGUSR1 pending\n");
        failures++;
    }

    struct timespec t30 = {0, 30 * 1000000};
    int64_t t0 = now_ns();
    errno = 0;
    sig = sigtimedwait(&set, &info, &t30);
    check("sigtimedwait, nothing pending, 30 ms: -1 EAGAIN, not early",
          sig == -1 && errno == EAGAIN && now_ns() - t0 >= 30 * 1000000);
    struct timespec zero = {0, 0};
    errno = 0;
    sig = sigtimedwait(&set, &info, &zero);
    check("sigtimedwait with a zero timeout: -1 EAGAIN", sig == -1 && errno == EAGAIN);

    int rt = SIGRTMIN + 3;
    sigaddset(&set, rt);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    union sigval v = {.sival_int = 7};
    sigqueue(getpid(), rt, v);
    memset(&info, 0, sizeof info);
    sig = sigwaitinfo(&set, &info);
    printf("sigwaitinfo: %s %s value %d\n", sig_name(sig), code_name(info.si_code), info.si_value.sival_int);
    if (sig != rt || info.si_code != SI_QUEUE || info.si_value.sival_int != 7) {
        fprintf(stderr, "FAIL: sigwaitinfo of a queued SIGRTMIN+3\n");
        failures++;
    }
    raise(SIGUSR1);
    sig = 0;
    int rc = sigwait(&set, &sig);
    check_text("sigwait:", rc == 0 ? sig_name(sig) : "error", "SIGUSR1");
    check_value("handler runs for signals taken by sigwait*", seen.count, 0);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

// --- SA_RESETHAND, SA_NODEFER ----------------------------------------------------------------

static volatile int depth, max_depth, nested_runs, usr1_blocked_inside, usr2_blocked_inside;

static void nesting_handler(int sig) {
    depth++;
    if (depth > max_depth) max_depth = depth;
    nested_runs++;
    usr1_blocked_inside = is_blocked(SIGUSR1);
    usr2_blocked_inside = is_blocked(SIGUSR2);
    if (nested_runs == 1) raise(sig);  // with SA_NODEFER: delivered inside this handler
    depth--;
}

static void run_nesting(int flags) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = nesting_handler;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGUSR2);
    sigaction(SIGUSR1, &sa, NULL);
    depth = max_depth = nested_runs = 0;
    raise(SIGUSR1);
}

static void test_resethand_nodefer(void) {
    install(SIGUSR2, record, SA_RESETHAND, NULL);
    reset_seen();
    raise(SIGUSR2);
    struct sigaction now;
    sigaction(SIGUSR2, NULL, &now);
    check_value("SA_RESETHAND: handler runs", seen.count, 1);
    check("SA_RESETHAND: the action is SIG_DFL afterwards", now.sa_handler == SIG_DFL);

    run_nesting(0);
    printf("default: runs %d, max depth %d, SIGUSR1 blocked inside %d, sa_mask SIGUSR2 blocked inside %d\n",
           nested_runs, max_depth, usr1_blocked_inside, usr2_blocked_inside);
    if (nested_runs != 2 || max_depth != 1 || !usr1_blocked_inside || !usr2_blocked_inside) {
        fprintf(stderr, "FAIL: a handler raising its own signal without SA_NODEFER\n");
        failures++;
    }
    run_nesting(SA_NODEFER);
    printf("SA_NODEFER: runs %d, max depth %d, SIGUSR1 blocked inside %d\n", nested_runs, max_depth,
           usr1_blocked_inside);
    if (nested_runs != 2 || max_depth != 2 || usr1_blocked_inside) {
        fprintf(stderr, "FAIL: a handler raising its own signal with SA_NODEFER\n");
        failures++;
    }
    check("masks back to normal after the handlers", !is_blocked(SIGUSR1) && !is_blocked(SIGUSR2));
    set_handler(SIGUSR1, SIG_DFL);
}

// --- SIGSEGV handlers ---------------------------------------------------------------------

static char *fault_page;
static struct {
    volatile int count, code, trapno, write;
    void *volatile addr;
    volatile long rcx;
} fault;

static void reset_fault(void) {
    fault.count = fault.code = fault.trapno = fault.write = 0;
    fault.addr = NULL;
    fault.rcx = 0;
    __asm__ volatile("" ::: "memory");
}

static void fix_with_mprotect(int sig, siginfo_t *si, void *ucv) {
    (void)sig;
    (void)ucv;
    fault.count++;
    fault.addr = si->si_addr;
    fault.code = si->si_code;
    mprotect(fault_page, 4096, PROT_READ | PROT_WRITE);
}

static void skip_load(int sig, siginfo_t *si, void *ucv) {
    (void)sig;
    ucontext_t *uc = ucv;
    fault.count++;
    fault.addr = si->si_addr;
    fault.code = si->si_code;
    fault.trapno = (int)uc->uc_mcontext.gregs[REG_TRAPNO];
    fault.write = (uc->uc_mcontext.gregs[REG_ERR] & 2) != 0;
    fault.rcx = uc->uc_mcontext.gregs[REG_RCX];
    uc->uc_mcontext.gregs[REG_RIP] += 3;  // movq (%rcx), %rax / movq %rax, (%rcx): 3 bytes
    uc->uc_mcontext.gregs[REG_RAX] = 0x5a5a;
}

// A load through %rcx: 48 8b 01, 3 bytes.
__attribute__((noinline)) static long load_rcx(const void *p) {
    long v = 0;
    __asm__ volatile("movq (%%rcx), %%rax" : "=a"(v) : "c"(p), "0"(v) : "memory");
    return v;
}

// A store through %rcx: 48 89 01, 3 bytes.
__attribute__((noinline)) static long store_rcx(void *p) {
    long v = 0x1111;
    __asm__ volatile("movq %%rax, (%%rcx)" : "+a"(v) : "c"(p) : "memory");
    return v;
}

static const char *segv_code_name(int code) {
    return code == SEGV_MAPERR ? "SEGV_MAPERR" : code == SEGV_ACCERR ? "SEGV_ACCERR" : "other";
}

static void test_segv(void) {
    // PROT_NONE page: the handler makes it writable and the write completes.
    fault_page = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (fault_page == MAP_FAILED) fatal("mmap");
    install(SIGSEGV, fix_with_mprotect, 0, NULL);
    reset_fault();
    *(volatile int *)(fault_page + 100) = 1234;
    int value = *(volatile int *)(fault_page + 100);
    printf("SIGSEGV on a PROT_NONE page, handler mprotects: runs %d, %s, value %d\n", fault.count,
           segv_code_name(fault.code), value);
    check("SIGSEGV si_addr is the faulting address", fault.addr == fault_page + 100);
    if (fault.count != 1 || fault.code != SEGV_ACCERR || value != 1234) {
        fprintf(stderr, "FAIL: SIGSEGV fixed by mprotect\n");
        failures++;
    }
    // A read-only page: reads work, the first write faults once.
    mprotect(fault_page, 4096, PROT_READ);
    reset_fault();
    value = *(volatile int *)(fault_page + 100);
    *(volatile int *)(fault_page + 200) = 5678;
    printf("SIGSEGV writing a read-only page: runs %d, %s, values %d %d\n", fault.count,
           segv_code_name(fault.code), value, *(volatile int *)(fault_page + 200));
    if (fault.count != 1 || fault.code != SEGV_ACCERR || fault.addr != fault_page + 200 || value != 1234 ||
        *(volatile int *)(fault_page + 200) != 5678) {
        fprintf(stderr, "FAIL: SIGSEGV on a read-only page\n");
        failures++;
    }

    // The handler moves RIP past the faulting instruction and sets RAX.
    install(SIGSEGV, skip_load, 0, NULL);
    reset_fault();
    long v = load_rcx((void *)16);
    printf("SIGSEGV load from 0x10, ucontext RIP += 3: runs %d, %s, rax 0x%lx, trapno %d, write %d\n",
           fault.count, segv_code_name(fault.code), v, fault.trapno, fault.write);
    check("SIGSEGV si_addr 0x10 and REG_RCX in the ucontext", fault.addr == (void *)16 && fault.rcx == 16);
    if (fault.count != 1 || fault.code != SEGV_MAPERR || v != 0x5a5a || fault.trapno != 14 || fault.write) {
        fprintf(stderr, "FAIL: SIGSEGV handler editing the ucontext (load)\n");
        failures++;
    }
    mprotect(fault_page, 4096, PROT_READ);
    reset_fault();
    v = store_rcx(fault_page + 8);
    printf("SIGSEGV store to a read-only page, ucontext RIP += 3: runs %d, %s, rax 0x%lx, trapno %d, write %d\n",
           fault.count, segv_code_name(fault.code), v, fault.trapno, fault.write);
    if (fault.count != 1 || fault.code != SEGV_ACCERR || v != 0x5a5a || fault.trapno != 14 || !fault.write ||
        fault.addr != fault_page + 8 || *(volatile long *)(fault_page + 8) != 0) {
        fprintf(stderr, "FAIL: SIGSEGV handler editing the ucontext (store)\n");
        failures++;
    }
    munmap(fault_page, 4096);
    set_handler(SIGSEGV, SIG_DFL);
}

// --- Alternate signal stacks -------------------------------------------------------------------

#define ALT_SIZE (64 * 1024)

static char *alt_base;
static volatile int on_alt_stack, ss_onstack_inside;
static sigjmp_buf overflow_jmp;

static void altstack_handler(int sig, siginfo_t *si, void *uc) {
    (void)si;
    (void)uc;
    char local;
    on_alt_stack = &local >= alt_base && &local < alt_base + ALT_SIZE;
    stack_t cur;
    ss_onstack_inside = sigaltstack(NULL, &cur) == 0 && (cur.ss_flags & SS_ONSTACK);
    if (sig == SIGSEGV) siglongjmp(overflow_jmp, 1);
}

static volatile int recursion_stop;

__attribute__((noinline)) static long recurse(long n) {
    volatile char pad[512];
    pad[0] = (char)n;
    pad[511] = (char)n;
    if (recursion_stop) return n;
    return recurse(n + 1) + pad[0] + pad[511];
}

static void *overflow_thread(void *arg) {
    (void)arg;
    stack_t ss = {.ss_sp = alt_base, .ss_size = ALT_SIZE, .ss_flags = 0};
    if (sigaltstack(&ss, NULL) != 0) return (void *)0;
    install(SIGSEGV, altstack_handler, SA_ONSTACK, NULL);
    on_alt_stack = ss_onstack_inside = 0;
    int caught = 0;
    if (sigsetjmp(overflow_jmp, 1) == 0) recurse(0);
    else caught = 1;
    stack_t after;
    sigaltstack(NULL, &after);
    return (void *)(intptr_t)(caught && on_alt_stack && ss_onstack_inside && after.ss_flags == 0);
}

static void test_altstack(void) {
    alt_base = malloc(ALT_SIZE);
    stack_t ss = {.ss_sp = alt_base, .ss_size = ALT_SIZE, .ss_flags = 0}, old;
    check("sigaltstack", sigaltstack(&ss, &old) == 0 && (old.ss_flags & SS_DISABLE));
    install(SIGUSR1, altstack_handler, SA_ONSTACK, NULL);
    on_alt_stack = ss_onstack_inside = 0;
    raise(SIGUSR1);
    check("SA_ONSTACK handler runs on the alternate stack, SS_ONSTACK inside",
          on_alt_stack && ss_onstack_inside);
    stack_t cur;
    sigaltstack(NULL, &cur);
    check("after the handler: not on the alternate stack", cur.ss_flags == 0 && cur.ss_sp == alt_base &&
                                                              cur.ss_size == ALT_SIZE);
    install(SIGUSR1, altstack_handler, 0, NULL);
    on_alt_stack = 1;
    raise(SIGUSR1);
    check("handler without SA_ONSTACK runs on the normal stack", !on_alt_stack);
    stack_t off = {.ss_sp = NULL, .ss_size = 0, .ss_flags = SS_DISABLE};
    sigaltstack(&off, NULL);
    sigaltstack(NULL, &cur);
    check("SS_DISABLE", cur.ss_flags == SS_DISABLE);
    stack_t tiny = {.ss_sp = alt_base, .ss_size = 512, .ss_flags = 0};
    errno = 0;
    check("sigaltstack smaller than MINSIGSTKSZ: ENOMEM", sigaltstack(&tiny, NULL) == -1 && errno == ENOMEM);
    set_handler(SIGUSR1, SIG_DFL);

    // Stack overflow in a thread with a 256 KiB stack, caught on its alternate stack.
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    pthread_t t;
    void *ok = NULL;
    if (pthread_create(&t, &attr, overflow_thread, NULL) != 0) fatal("pthread_create");
    pthread_join(t, &ok);
    pthread_attr_destroy(&attr);
    check("thread stack overflow: SIGSEGV on the alternate stack, left with siglongjmp", ok != NULL);
    set_handler(SIGSEGV, SIG_DFL);
    free(alt_base);
}

// --- SIGFPE, SIGILL, SIGTRAP -----------------------------------------------------------------

static sigjmp_buf fpe_jmp;
static volatile int trap_code, trap_count, trap_at_int3, ill_addr_ok;

static void on_fpe(int sig, siginfo_t *si, void *uc) {
    (void)sig;
    (void)uc;
    trap_code = si->si_code;
    trap_count++;
    siglongjmp(fpe_jmp, 1);
}

static void on_ill(int sig, siginfo_t *si, void *ucv) {
    (void)sig;
    ucontext_t *uc = ucv;
    trap_code = si->si_code;
    trap_count++;
    const unsigned char *rip = (const unsigned char *)uc->uc_mcontext.gregs[REG_RIP];
    ill_addr_ok = si->si_addr == (void *)rip && rip[0] == 0x0f && rip[1] == 0x0b;
    uc->uc_mcontext.gregs[REG_RIP] += 2;  // past ud2
}

static void on_trap(int sig, siginfo_t *si, void *ucv) {
    (void)sig;
    ucontext_t *uc = ucv;
    trap_code = si->si_code;
    trap_count++;
    // int3 is a trap: RIP is already past the 0xcc.
    trap_at_int3 = ((const unsigned char *)uc->uc_mcontext.gregs[REG_RIP])[-1] == 0xcc;
    // Clobber caller-saved registers the interrupted code is using; sigreturn restores them.
    __asm__ volatile("xorpd %%xmm7, %%xmm7\n\txorl %%r8d, %%r8d\n\txorl %%r9d, %%r9d\n\t"
                     "xorl %%r10d, %%r10d\n\txorl %%r11d, %%r11d" ::: "xmm7", "r8", "r9", "r10", "r11");
}

static void test_traps(void) {
    install(SIGFPE, on_fpe, 0, NULL);
    volatile int a = 7, b = 0, result = -1;
    trap_count = 0;
    if (sigsetjmp(fpe_jmp, 1) == 0) result = a / b;
    printf("SIGFPE from 7 / 0: runs %d, %s, result untouched %d\n", trap_count,
           trap_code == FPE_INTDIV ? "FPE_INTDIV" : "other", result == -1);
    if (trap_count != 1 || trap_code != FPE_INTDIV || result != -1) {
        fprintf(stderr, "FAIL: SIGFPE from a division by zero\n");
        failures++;
    }
    check("after siglongjmp out of the SIGFPE handler: SIGFPE not blocked", !is_blocked(SIGFPE));
    a = INT_MIN;
    b = -1;
    trap_count = 0;
    if (sigsetjmp(fpe_jmp, 1) == 0) result = a / b;
    printf("SIGFPE from INT_MIN / -1: runs %d, %s\n", trap_count, trap_code == FPE_INTDIV ? "FPE_INTDIV" : "other");
    if (trap_count != 1 || trap_code != FPE_INTDIV) {
        fprintf(stderr, "FAIL: SIGFPE from INT_MIN / -1\n");
        failures++;
    }
    set_handler(SIGFPE, SIG_DFL);

    install(SIGILL, on_ill, 0, NULL);
    trap_count = 0;
    ill_addr_ok = 0;
    __asm__ volatile("ud2");
    printf("SIGILL from ud2: runs %d, %s, resumed after it\n", trap_count,
           trap_code == ILL_ILLOPN ? "ILL_ILLOPN" : "other");
    check("SIGILL si_addr and RIP at the ud2", ill_addr_ok);
    if (trap_count != 1 || trap_code != ILL_ILLOPN) {
        fprintf(stderr, "FAIL: SIGILL from ud2\n");
        failures++;
    }
    set_handler(SIGILL, SIG_DFL);

    install(SIGTRAP, on_trap, 0, NULL);
    trap_count = 0;
    double in = 2.5, out = 0;
    long r8 = 0, r9 = 0, r10 = 0, r11 = 0;
    __asm__ volatile(
        "movsd %[in], %%xmm7\n\t"
        "movq $0x8888, %%r8\n\t"
        "movq $0x9999, %%r9\n\t"
        "movq $0x1010, %%r10\n\t"
        "movq $0x1111, %%r11\n\t"
        "int3\n\t"
        "movsd %%xmm7, %[out]\n\t"
        "movq %%r8, %[r8]\n\t"
        "movq %%r9, %[r9]\n\t"
        "movq %%r10, %[r10]\n\t"
        "movq %%r11, %[r11]"
        : [out] "=m"(out), [r8] "=m"(r8), [r9] "=m"(r9), [r10] "=m"(r10), [r11] "=m"(r11)
        : [in] "m"(in)
        : "xmm7", "r8", "r9", "r10", "r11", "memory");
    printf("SIGTRAP from int3: runs %d, %s, resumed after it %d\n", trap_count,
           trap_code == SI_KERNEL ? "SI_KERNEL" : "other", trap_at_int3);
    if (trap_count != 1 || trap_code != SI_KERNEL || !trap_at_int3) {
        fprintf(stderr, "FAIL: SIGTRAP from int3\n");
        failures++;
    }
    check("r8-r11 and xmm7 restored after a handler that clobbered them",
          out == 2.5 && r8 == 0x8888 && r9 == 0x9999 && r10 == 0x1010 && r11 == 0x1111);
    set_handler(SIGTRAP, SIG_DFL);
}

// --- Interrupted and restarted system calls ------------------------------------------------

static int pipe_w;

static void alarm_writes(int sig) {
    (void)sig;
    alarm_count++;
    char c = 'x';
    if (write(pipe_w, &c, 1) != 1) alarm_count += 100;
}

static void test_interrupted_syscalls(void) {
    int p[2];
    if (pipe(p) != 0) fatal("pipe");
    pipe_w = p[1];
    char buf[8];

    set_handler(SIGALRM, on_alarm);  // no SA_RESTART
    alarm_count = 0;
    alarm(1);
    errno = 0;
    ssize_t n = read(p[0], buf, sizeof buf);
    check("alarm(1) interrupts a blocking pipe read: -1 EINTR, handler ran",
          n == -1 && errno == EINTR && alarm_count == 1);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = alarm_writes;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    alarm_count = 0;
    struct itimerval it = {{0, 0}, {0, 50000}};
    setitimer(ITIMER_REAL, &it, NULL);
    buf[0] = 0;
    n = read(p[0], buf, sizeof buf);
    check("SA_RESTART: the read restarts and returns the byte the handler wrote",
          n == 1 && buf[0] == 'x' && alarm_count == 1);

    // Periodic ITIMER_REAL: 10 ticks of 10 ms, each waited for with sigsuspend.
    set_handler(SIGALRM, on_alarm);
    alarm_count = 0;
    mask(SIG_BLOCK, SIGALRM);
    sigset_t unblocked;
    pthread_sigmask(SIG_SETMASK, NULL, &unblocked);
    sigdelset(&unblocked, SIGALRM);
    struct itimerval tick = {{0, 10000}, {0, 10000}}, now;
    setitimer(ITIMER_REAL, &tick, NULL);
    int64_t deadline = now_ns() + 10LL * 1000000000;
    while (alarm_count < 10 && now_ns() < deadline) sigsuspend(&unblocked);
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    getitimer(ITIMER_REAL, &now);
    sigset_t alrm;
    sigemptyset(&alrm);
    sigaddset(&alrm, SIGALRM);
    struct timespec zero = {0, 0};
    sigtimedwait(&alrm, NULL, &zero);  // a tick that fired after the 10th
    mask(SIG_UNBLOCK, SIGALRM);
    check_value("ITIMER_REAL every 10 ms: ticks counted", alarm_count, 10);
    check("ITIMER_REAL disarmed", now.it_value.tv_sec == 0 && now.it_value.tv_usec == 0);
    set_handler(SIGALRM, SIG_DFL);

    // SIGPIPE: a write to a pipe whose read end is closed.
    install(SIGPIPE, record, 0, NULL);
    reset_seen();
    close(p[0]);
    errno = 0;
    n = write(p[1], "y", 1);
    check("write to a pipe without readers: SIGPIPE handled, -1 EPIPE",
          n == -1 && errno == EPIPE && seen.count == 1 && seen.signo == SIGPIPE);
    close(p[1]);
    set_handler(SIGPIPE, SIG_DFL);
}

// --- Signals and threads ---------------------------------------------------------------------

struct target {
    pthread_t self;
    int unblock_usr2;
    int usr2_blocked_at_start;
    sem_t release;
};

static void *target_thread(void *arg) {
    struct target *t = arg;
    t->usr2_blocked_at_start = is_blocked(SIGUSR2);
    if (t->unblock_usr2) mask(SIG_UNBLOCK, SIGUSR2);
    while (sem_wait(&t->release) != 0) {}
    return NULL;
}

static void await_count(int want, const char *what) {
    int64_t deadline = now_ns() + 10LL * 1000000000;
    while (__atomic_load_n(&seen.count, __ATOMIC_SEQ_CST) < want) {
        if (now_ns() > deadline) fatal(what);
        sleep_ms(1);
    }
}

static void *sigwait_thread(void *arg) {
    siginfo_t *info = arg;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    if (sigwaitinfo(&set, info) != SIGUSR2) info->si_signo = -1;
    return NULL;
}

static void test_threads(void) {
    enum { N = 3 };
    struct target t[N];

    // pthread_kill: the handler runs on the target thread.
    install(SIGUSR1, record, 0, NULL);
    reset_seen();
    for (int i = 0; i < N; i++) {
        t[i].unblock_usr2 = 0;
        sem_init(&t[i].release, 0, 0);
        if (pthread_create(&t[i].self, NULL, target_thread, &t[i]) != 0) fatal("pthread_create");
    }
    pthread_kill(t[1].self, SIGUSR1);
    await_count(1, "pthread_kill: the handler runs");
    check_text("pthread_kill(thread 1):", describe_seen(), "runs 1 SIGUSR1 SI_TKILL pid self uid self");
    check("pthread_kill(thread 1): handler ran on thread 1", pthread_equal(seen.thread, t[1].self));
    pthread_kill(t[2].self, SIGUSR1);
    await_count(2, "pthread_kill: the handler runs");
    check("pthread_kill(thread 2): handler ran on thread 2", pthread_equal(seen.thread, t[2].self));
    for (int i = 0; i < N; i++) {
        sem_post(&t[i].release);
        pthread_join(t[i].self, NULL);
        sem_destroy(&t[i].release);
    }

    // kill(getpid()): SIGUSR2 is blocked everywhere but in thread 2.
    install(SIGUSR2, record, 0, NULL);
    reset_seen();
    mask(SIG_BLOCK, SIGUSR2);
    for (int i = 0; i < N; i++) {
        t[i].unblock_usr2 = i == 2;
        sem_init(&t[i].release, 0, 0);
        if (pthread_create(&t[i].self, NULL, target_thread, &t[i]) != 0) fatal("pthread_create");
    }
    kill(getpid(), SIGUSR2);
    await_count(1, "kill(getpid()) with one thread unblocked: the handler runs");
    check_text("kill(getpid()) to a process with SIGUSR2 unblocked in one thread:", describe_seen(),
               "runs 1 SIGUSR2 SI_USER pid self uid self");
    check("the handler ran on the thread with SIGUSR2 unblocked", pthread_equal(seen.thread, t[2].self));
    int inherited = 1;
    for (int i = 0; i < N; i++) {
        sem_post(&t[i].release);
        pthread_join(t[i].self, NULL);
        sem_destroy(&t[i].release);
        inherited = inherited && t[i].usr2_blocked_at_start;
    }
    check("new threads inherit the creator's signal mask", inherited);

    // A thread in sigwaitinfo takes the process-directed signal; no handler runs.
    reset_seen();
    siginfo_t info;
    memset(&info, 0, sizeof info);
    pthread_t w;
    if (pthread_create(&w, NULL, sigwait_thread, &info) != 0) fatal("pthread_create");
    sleep_ms(10);
    kill(getpid(), SIGUSR2);
    pthread_join(w, NULL);
    check("kill(getpid()) taken by a thread in sigwaitinfo: SIGUSR2, SI_USER, handler not run",
          info.si_signo == SIGUSR2 && info.si_code == SI_USER && info.si_pid == getpid() && seen.count == 0);
    mask(SIG_UNBLOCK, SIGUSR2);
    set_handler(SIGUSR1, SIG_DFL);
    set_handler(SIGUSR2, SIG_DFL);
}

// --- Ignored signals -------------------------------------------------------------------------

static void test_ignored(void) {
    raise(SIGCHLD);
    raise(SIGURG);
    raise(SIGWINCH);
    kill(getpid(), SIGCHLD);
    check("SIGCHLD, SIGURG, SIGWINCH with SIG_DFL: ignored", 1);
    set_handler(SIGUSR1, SIG_IGN);
    raise(SIGUSR1);
    kill(getpid(), SIGUSR1);
    check("SIGUSR1 with SIG_IGN: ignored", !is_pending(SIGUSR1));
    set_handler(SIGUSR1, SIG_DFL);

    mask(SIG_BLOCK, SIGWINCH);
    raise(SIGWINCH);
    check("blocked SIGWINCH (default ignore) stays pending", is_pending(SIGWINCH));
    mask(SIG_UNBLOCK, SIGWINCH);
    check("unblocked: discarded", !is_pending(SIGWINCH));

    install(SIGUSR2, record, 0, NULL);
    reset_seen();
    mask(SIG_BLOCK, SIGUSR2);
    raise(SIGUSR2);
    int was_pending = is_pending(SIGUSR2);
    set_handler(SIGUSR2, SIG_IGN);
    check("setting SIG_IGN discards a pending signal", was_pending && !is_pending(SIGUSR2));
    mask(SIG_UNBLOCK, SIGUSR2);
    check("and nothing is delivered on unblock", seen.count == 0);
    set_handler(SIGUSR2, SIG_DFL);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    // Single-threaded first: a signal to the process then goes to this thread.
    test_send_to_self();
    test_mask_and_pending();
    test_sigsuspend();
    test_sigwait();
    test_resethand_nodefer();
    test_segv();
    test_traps();
    test_interrupted_syscalls();
    test_ignored();
    test_altstack();
    test_threads();
    if (failures) {
        printf("%d checks failed\n", failures);
        return 1;
    }
    printf("all signal checks passed\n");
    return 0;
}
