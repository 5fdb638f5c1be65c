// procfs: the /dev devices and /proc files ordinary programs rely on behave as on Linux:
// /dev/null, zero, full, urandom semantics and device numbers, mmap of /dev/zero,
// /proc/self/exe, fd, maps, status, cmdline, comm, /proc/cpuinfo, meminfo, uptime,
// readdir of /dev, and /proc refusing writes. Prints one PASS line per check (the same
// natively and under mote) and exits 1 if any check fails.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static int failures;

static void check(const char *what, int ok, const char *detail) {
    if (ok) {
        printf("PASS %s\n", what);
    } else {
        printf("FAIL %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
        failures++;
    }
}

// Reads a whole (small) file; returns its length or -1.
static ssize_t slurp(const char *path, char *buf, size_t cap) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -1;
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r < 0) {
            close(fd);
            return -1;
        }
        if (r == 0 || n + (size_t)r == cap - 1) {
            n += (size_t)r;
            break;
        }
        n += (size_t)r;
    }
    buf[n] = 0;
    close(fd);
    return (ssize_t)n;
}

static int is_chr(const char *path, unsigned major, unsigned minor) {
    struct stat st;
    if (stat(path, &st) != 0) return 0;
    return S_ISCHR(st.st_mode) && major(st.st_rdev) == major && minor(st.st_rdev) == minor;
}

static void dev_null(void) {
    int fd = open("/dev/null", O_RDWR);
    char buf[16];
    check("/dev/null opens", fd >= 0, strerror(errno));
    check("/dev/null reads EOF", read(fd, buf, sizeof buf) == 0, NULL);
    check("/dev/null swallows writes", write(fd, "abc", 3) == 3, NULL);
    check("/dev/null is char 1:3", is_chr("/dev/null", 1, 3), NULL);
    close(fd);
}

static void dev_zero(void) {
    int fd = open("/dev/zero", O_RDWR);
    unsigned char buf[64];
    memset(buf, 0xaa, sizeof buf);
    int zeros = read(fd, buf, sizeof buf) == (ssize_t)sizeof buf;
    for (size_t i = 0; i < sizeof buf; i++) zeros = zeros && buf[i] == 0;
    check("/dev/zero reads zeros", zeros, NULL);
    check("/dev/zero swallows writes", write(fd, "abc", 3) == 3, NULL);
    check("/dev/zero is char 1:5", is_chr("/dev/zero", 1, 5), NULL);
    unsigned char *m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    int mapped = m != MAP_FAILED;
    check("mmap of /dev/zero succeeds", mapped, strerror(errno));
    if (mapped) {
        int ok = m[0] == 0 && m[8191] == 0;
        m[100] = 7;
        ok = ok && m[100] == 7;
        check("mmap of /dev/zero is zeroed, writable memory", ok, NULL);
        munmap(m, 8192);
    }
    close(fd);
}

static void dev_full(void) {
    int fd = open("/dev/full", O_RDWR);
    unsigned char c = 1;
    errno = 0;
    check("/dev/full write fails with ENOSPC", write(fd, "x", 1) == -1 && errno == ENOSPC, NULL);
    check("/dev/full reads zeros", read(fd, &c, 1) == 1 && c == 0, NULL);
    check("/dev/full is char 1:7", is_chr("/dev/full", 1, 7), NULL);
    close(fd);
}

static void dev_urandom(void) {
    unsigned char buf[64];
    memset(buf, 0, sizeof buf);
    int fd = open("/dev/urandom", O_RDONLY);
    int ok = read(fd, buf, sizeof buf) == (ssize_t)sizeof buf;
    int same = 1;
    for (size_t i = 1; i < sizeof buf; i++) same = same && buf[i] == buf[0];
    check("/dev/urandom gives 64 non-identical bytes", ok && !same, NULL);
    check("/dev/urandom is char 1:9", is_chr("/dev/urandom", 1, 9), NULL);
    check("/dev/random is char 1:8", is_chr("/dev/random", 1, 8), NULL);
    close(fd);
}

static void proc_exe(const char *argv0) {
    char want[PATH_MAX], got[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", got, sizeof got - 1);
    if (n >= 0) got[n] = 0;
    int ok = n > 0 && realpath(argv0, want) && strcmp(want, got) == 0;
    check("readlink /proc/self/exe is argv[0]'s realpath", ok, n > 0 ? got : strerror(errno));
}

static void proc_fd(void) {
    int mine = open("/dev/null", O_RDONLY);
    int seen[4] = {0, 0, 0, 0};
    DIR *d = opendir("/proc/self/fd");
    check("opendir /proc/self/fd", d != NULL, strerror(errno));
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, "0")) seen[0] = 1;
        if (!strcmp(e->d_name, "1")) seen[1] = 1;
        if (!strcmp(e->d_name, "2")) seen[2] = 1;
        if (atoi(e->d_name) == mine && e->d_name[0] != '.') seen[3] = 1;
    }
    closedir(d);
    check("/proc/self/fd lists 0 1 2 and a new fd", seen[0] && seen[1] && seen[2] && seen[3], NULL);
    char path[64], target[PATH_MAX];
    snprintf(path, sizeof path, "/proc/self/fd/%d", mine);
    ssize_t n = readlink(path, target, sizeof target - 1);
    if (n >= 0) target[n] = 0;
    check("readlink /proc/self/fd/N is the path opened", n > 0 && !strcmp(target, "/dev/null"),
          n > 0 ? target : strerror(errno));
    close(mine);

    // Opening /proc/self/fd/N opens the file afresh: its own offset.
    char tmpl[] = "/tmp/procfs-test-XXXXXX";
    int fd = mkstemp(tmpl);
    int ok = fd >= 0 && write(fd, "hello", 5) == 5;
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    int again = open(path, O_RDONLY);
    char buf[8] = {0};
    ok = ok && again >= 0 && read(again, buf, sizeof buf) == 5 && !memcmp(buf, "hello", 5);
    check("open /proc/self/fd/N reads the file from its start", ok, NULL);
    if (again >= 0) close(again);
    if (fd >= 0) close(fd);
    unlink(tmpl);
}

static void proc_maps(void) {
    static char buf[1 << 16];
    ssize_t n = slurp("/proc/self/maps", buf, sizeof buf);
    unsigned long fn = (unsigned long)(void *)&proc_maps;
    int found = 0;
    for (char *line = buf; n > 0 && line && *line;) {
        unsigned long lo, hi;
        char perms[5];
        if (sscanf(line, "%lx-%lx %4s", &lo, &hi, perms) == 3 && lo <= fn && fn < hi)
            found = !strcmp(perms, "r-xp");
        char *nl = strchr(line, '\n');
        line = nl ? nl + 1 : NULL;
    }
    check("/proc/self/maps covers a function with r-xp", found, NULL);
}

static void proc_files(void) {
    static char buf[1 << 16];
    check("/proc/self/status has Pid:", slurp("/proc/self/status", buf, sizeof buf) > 0 &&
                                            strstr(buf, "\nPid:\t") != NULL, NULL);
    check("/proc/self/status has Threads:", strstr(buf, "\nThreads:\t") != NULL, NULL);
    check("/proc/cpuinfo has processor", slurp("/proc/cpuinfo", buf, sizeof buf) > 0 &&
                                             strncmp(buf, "processor\t: 0", 13) == 0, NULL);
    unsigned long total = 0;
    char *mt = slurp("/proc/meminfo", buf, sizeof buf) > 0 ? strstr(buf, "MemTotal:") : NULL;
    check("/proc/meminfo MemTotal > 0", mt && sscanf(mt, "MemTotal: %lu kB", &total) == 1 &&
                                             total > 0, NULL);
    double up = -1, idle = -1;
    check("/proc/uptime parses", slurp("/proc/uptime", buf, sizeof buf) > 0 &&
                                     sscanf(buf, "%lf %lf", &up, &idle) == 2 && up >= 0 &&
                                     idle >= 0, buf);
    check("sysconf(_SC_NPROCESSORS_ONLN) >= 1", sysconf(_SC_NPROCESSORS_ONLN) >= 1, NULL);
}

static void proc_cmdline(int argc, char **argv) {
    static char buf[1 << 16];
    ssize_t n = slurp("/proc/self/cmdline", buf, sizeof buf);
    size_t at = 0;
    int ok = n > 0;
    for (int i = 0; ok && i < argc; i++) {
        size_t len = strlen(argv[i]);
        ok = at + len < (size_t)n && !memcmp(buf + at, argv[i], len + 1);
        at += len + 1;
    }
    check("/proc/self/cmdline round-trips argv", ok && at == (size_t)n, NULL);

    char comm[32] = {0};
    const char *base = strrchr(argv[0], '/');
    base = base ? base + 1 : argv[0];
    char want[16];
    snprintf(want, sizeof want, "%.15s", base);
    n = slurp("/proc/self/comm", comm, sizeof comm);
    check("/proc/self/comm is the program name", n > 0 && comm[n - 1] == '\n' &&
                                                     !strncmp(comm, want, strlen(want)) &&
                                                     (size_t)n == strlen(want) + 1, comm);
}

static void dev_listing(void) {
    DIR *d = opendir("/dev");
    int null = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (!strcmp(e->d_name, "null")) null = 1;
    if (d) closedir(d);
    check("readdir /dev lists null", null, NULL);
    struct stat st;
    check("/dev/stdin resolves", stat("/dev/stdin", &st) == 0, strerror(errno));
}

static void proc_read_only(void) {
    errno = 0;
    int fd = open("/proc/self/status", O_WRONLY);
    int failed = fd < 0;
    if (fd >= 0) {
        failed = write(fd, "x", 1) < 0;
        close(fd);
    }
    check("writing /proc/self/status fails",
          failed && (errno == EACCES || errno == EROFS || errno == EINVAL || errno == EIO),
          strerror(errno));
    errno = 0;
    fd = open("/proc/mote-new-file", O_WRONLY | O_CREAT, 0644);
    // Linux: ENOENT (procfs's lookup fails before any create); mote: EROFS.
    check("creating a file in /proc fails",
          fd < 0 && (errno == ENOENT || errno == EACCES || errno == EROFS), strerror(errno));
    if (fd >= 0) close(fd);
}

int main(int argc, char **argv) {
    dev_null();
    dev_zero();
    dev_full();
    dev_urandom();
    dev_listing();
    proc_exe(argv[0]);
    proc_fd();
    proc_maps();
    proc_files();
    proc_cmdline(argc, argv);
    proc_read_only();
    return failures ? 1 : 0;
}
