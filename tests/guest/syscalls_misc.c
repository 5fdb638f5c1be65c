// syscalls_misc: identity, scheduling, limits and file-descriptor facts that every libc relies
// on. Values (pids, paths) differ between native and mote runs, so only ok/FAIL lines are printed.
// The harness runs the program with stdout on a pipe: isatty(1) is 0 and fstat(1) is a FIFO.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static int failures;

static void check(const char *what, int ok) {
    printf("%s: %s\n", what, ok ? "ok" : "FAIL");
    if (!ok) failures++;
}

static const char *base_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

int main(int argc, char **argv) {
    (void)argc;
    pid_t pid = getpid();
    pid_t tid = (pid_t)syscall(SYS_gettid);
    pid_t ppid = getppid();
    check("getpid() > 0", pid > 0);
    check("gettid() == getpid() in the main thread", tid == pid);
    check("getpid() is stable", getpid() == pid);
    check("getppid() >= 0 and != getpid()", ppid >= 0 && ppid != pid);
    check("getuid() == geteuid()", getuid() == geteuid());
    check("getgid() == getegid()", getgid() == getegid());
    check("getpgrp() > 0", getpgrp() > 0);
    check("getsid(0) > 0", getsid(0) > 0);

    cpu_set_t set;
    CPU_ZERO(&set);
    int rc = sched_getaffinity(0, sizeof set, &set);
    check("sched_getaffinity returns >= 1 CPU", rc == 0 && CPU_COUNT(&set) >= 1);
    check("sysconf(_SC_NPROCESSORS_ONLN) >= 1", sysconf(_SC_NPROCESSORS_ONLN) >= 1);
    check("sched_yield() == 0", sched_yield() == 0);

    struct rlimit stack;
    rc = getrlimit(RLIMIT_STACK, &stack);
    check("getrlimit(RLIMIT_STACK) succeeds", rc == 0);
    check("stack limit sane (cur >= 128 KiB, cur <= max)",
          rc == 0 && stack.rlim_cur >= 128 * 1024 &&
              (stack.rlim_max == RLIM_INFINITY || stack.rlim_cur <= stack.rlim_max));
    struct rlimit files;
    rc = getrlimit(RLIMIT_NOFILE, &files);
    check("getrlimit(RLIMIT_NOFILE) allows >= 64 files", rc == 0 && files.rlim_cur >= 64);
    check("sysconf(_SC_PAGESIZE) == 4096", sysconf(_SC_PAGESIZE) == 4096);

    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n >= 0) exe[n] = '\0';
    check("readlink(/proc/self/exe) succeeds", n > 0);
    check("/proc/self/exe is absolute", n > 0 && exe[0] == '/');
    check("/proc/self/exe ends with the program's basename",
          n > 0 && strcmp(base_name(exe), base_name(argv[0])) == 0);

    errno = 0;
    check("isatty(1) == 0 (stdout is a pipe)", isatty(1) == 0);
    struct stat st;
    check("fstat(1) is a FIFO", fstat(1, &st) == 0 && S_ISFIFO(st.st_mode));
    errno = 0;
    check("fstat(-1) -> EBADF", fstat(-1, &st) == -1 && errno == EBADF);
    errno = 0;
    check("close(1000) -> EBADF", close(1000) == -1 && errno == EBADF);
    // stdout is the write end of the harness's pipe.
    int fl = fcntl(1, F_GETFL);
    check("fcntl(1, F_GETFL) is O_WRONLY", fl >= 0 && (fl & O_ACCMODE) == O_WRONLY);
    check("fcntl F_SETFD/F_GETFD round trip",
          fcntl(2, F_SETFD, FD_CLOEXEC) == 0 && fcntl(2, F_GETFD) == FD_CLOEXEC &&
              fcntl(2, F_SETFD, 0) == 0 && fcntl(2, F_GETFD) == 0);
    errno = 0;
    check("fcntl(-1, F_GETFL) -> EBADF", fcntl(-1, F_GETFL) == -1 && errno == EBADF);

    char cwd[PATH_MAX];
    check("getcwd() is absolute", getcwd(cwd, sizeof cwd) != NULL && cwd[0] == '/');
    printf(failures ? "syscalls_misc: FAIL\n" : "syscalls_misc: ok\n");
    return failures ? 1 : 0;
}
