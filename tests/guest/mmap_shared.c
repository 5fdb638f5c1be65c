// mmap_shared: MAP_SHARED mappings with Linux semantics. Stores through a shared mapping reach
// read() of the file and every other mapping of it; write() and truncate reach the mapping;
// the data outlives munmap; shared anonymous memory written by a forked child is seen by its
// parent (a private mapping's is not).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int failures;

static void report(const char *what, int ok) {
    printf("%s: %s\n", what, ok ? "ok" : "FAIL");
    if (!ok) failures++;
}

static int pread_is(int fd, off_t off, const char *want) {
    char buf[64] = {0};
    size_t n = strlen(want);
    return pread(fd, buf, n, off) == (ssize_t)n && memcmp(buf, want, n) == 0;
}

// A file of two pages mapped shared twice, at different addresses.
static void file_mappings(const char *path) {
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    report("open", fd >= 0);
    if (fd < 0) return;
    report("ftruncate", ftruncate(fd, 8192) == 0);
    char *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    char *q = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    report("mmap shared twice", p != MAP_FAILED && q != MAP_FAILED && p != q);
    if (p == MAP_FAILED || q == MAP_FAILED) return;

    memcpy(p + 100, "hello", 5);
    report("store through mapping, pread sees it", pread_is(fd, 100, "hello"));
    report("other mapping sees the store", memcmp(q + 100, "hello", 5) == 0);
    memcpy(q + 5000, "second", 6);
    report("store through second mapping, first sees it", memcmp(p + 5000, "second", 6) == 0);
    report("pwrite", pwrite(fd, "world", 5, 4200) == 5);
    report("mapping sees pwrite", memcmp(p + 4200, "world", 5) == 0 &&
                                      memcmp(q + 4200, "world", 5) == 0);
    report("msync MS_SYNC", msync(p, 8192, MS_SYNC) == 0);
    struct stat st;
    report("size unchanged by stores", fstat(fd, &st) == 0 && st.st_size == 8192);

    // Truncating drops the bytes past the new end; growing again reads zeros there.
    report("truncate down", ftruncate(fd, 4100) == 0);
    report("truncate up", ftruncate(fd, 8192) == 0);
    report("truncated bytes read as zero in the mapping", p[5000] == 0 && p[4200] == 0 &&
                                                          q[4100] == 0);
    report("bytes before the cut survive", memcmp(p + 100, "hello", 5) == 0);
    memcpy(p + 5000, "again", 5);

    // mremap of a shared mapping keeps mapping the file.
    char *r = mremap(q, 8192, 16384, MREMAP_MAYMOVE);
    report("mremap grow", r != MAP_FAILED);
    if (r != MAP_FAILED) {
        report("moved mapping shows the file", memcmp(r + 5000, "again", 5) == 0);
        report("extend file", ftruncate(fd, 16384) == 0);
        memcpy(r + 12000, "tail", 4);
        report("grown part is the file's", pread_is(fd, 12000, "tail"));
        munmap(r, 16384);
    }

    // madvise(MADV_DONTNEED) on a shared mapping keeps the data (it is the file's).
    report("madvise DONTNEED", madvise(p, 8192, MADV_DONTNEED) == 0);
    report("data survives DONTNEED", memcmp(p + 100, "hello", 5) == 0);

    report("munmap", munmap(p, 8192) == 0);
    close(fd);
    fd = open(path, O_RDONLY);
    report("reopen sees data after munmap", fd >= 0 && pread_is(fd, 100, "hello") &&
                                                pread_is(fd, 5000, "again") &&
                                                pread_is(fd, 12000, "tail"));
    // A read-only descriptor: PROT_WRITE is refused, now and by mprotect.
    errno = 0;
    report("read-only fd: shared writable mmap is EACCES",
           mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) == MAP_FAILED &&
               errno == EACCES);
    char *ro = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
    report("read-only shared mapping", ro != MAP_FAILED && memcmp(ro + 100, "hello", 5) == 0);
    if (ro != MAP_FAILED) {
        errno = 0;
        report("mprotect to writable is EACCES",
               mprotect(ro, 4096, PROT_READ | PROT_WRITE) == -1 && errno == EACCES);
        munmap(ro, 4096);
    }
    close(fd);
    unlink(path);
}

static void memfd(void) {
    int fd = memfd_create("mote-test", MFD_CLOEXEC);
    report("memfd_create", fd >= 0);
    if (fd < 0) return;
    report("memfd ftruncate", ftruncate(fd, 3 * 4096) == 0);
    char *p = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    report("memfd mmap shared", p != MAP_FAILED);
    if (p == MAP_FAILED) return;
    strcpy(p + 8192 + 7, "memfd data");
    report("memfd pread sees store", pread_is(fd, 8192 + 7, "memfd data"));
    // The mapping keeps the file alive after its last descriptor goes.
    char *q = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 8192);
    close(fd);
    report("mapping outlives the fd", q != MAP_FAILED && strcmp(q + 7, "memfd data") == 0);
    p[8192 + 7] = 'M';
    report("offset mapping sees later store", q != MAP_FAILED && q[7] == 'M');
    munmap(p, 3 * 4096);
    if (q != MAP_FAILED) munmap(q, 4096);
}

static void fork_sharing(const char *path) {
    int *shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    int *private = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    report("anonymous shared and private maps", shared != MAP_FAILED && private != MAP_FAILED);
    if (shared == MAP_FAILED || private == MAP_FAILED) return;
    report("shared anonymous starts zero", shared[0] == 0 && shared[1023] == 0);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    char *file = MAP_FAILED;
    if (fd >= 0 && ftruncate(fd, 4096) == 0)
        file = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    report("file for fork", file != MAP_FAILED);
    shared[0] = 1;
    private[0] = 1;
    pid_t pid = fork();
    if (pid == 0) {
        shared[0] = 42;
        shared[1023] = 7;
        private[0] = 42;
        if (file != MAP_FAILED) memcpy(file + 10, "from child", 10);
        munmap(shared, 4096);  // the parent's mapping is its own
        _exit(0);
    }
    int status = -1;
    report("fork and wait", pid > 0 && waitpid(pid, &status, 0) == pid && status == 0);
    report("parent sees child's shared anonymous stores", shared[0] == 42 && shared[1023] == 7);
    report("parent does not see child's private store", private[0] == 1);
    report("parent sees child's shared file store",
           file != MAP_FAILED && memcmp(file + 10, "from child", 10) == 0);
    report("file has child's store", fd >= 0 && pread_is(fd, 10, "from child"));

    // /dev/zero mapped shared is shared anonymous memory too.
    int zfd = open("/dev/zero", O_RDWR);
    int *z = zfd >= 0 ? mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, zfd, 0) : MAP_FAILED;
    if (zfd >= 0) close(zfd);
    report("/dev/zero shared", z != MAP_FAILED && z[5] == 0);
    if (z != MAP_FAILED) {
        pid = fork();
        if (pid == 0) {
            z[5] = 99;
            _exit(0);
        }
        waitpid(pid, &status, 0);
        report("/dev/zero shared across fork", z[5] == 99);
        munmap(z, 4096);
    }
    munmap(shared, 4096);
    munmap(private, 4096);
    if (file != MAP_FAILED) munmap(file, 4096);
    if (fd >= 0) close(fd);
    unlink(path);
}

int main(void) {
    char path[64];
    snprintf(path, sizeof path, "/tmp/mote_mmap_shared_%d", (int)getpid());
    file_mappings(path);
    memfd();
    fork_sharing(path);
    snprintf(path, sizeof path, "/dev/shm/mote_mmap_shared_%d", (int)getpid());
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
    report("/dev/shm file", fd >= 0 && ftruncate(fd, 4096) == 0);
    if (fd >= 0) {
        char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        report("/dev/shm mmap", p != MAP_FAILED);
        if (p != MAP_FAILED) {
            strcpy(p, "shm");
            report("/dev/shm pread", pread_is(fd, 0, "shm"));
            munmap(p, 4096);
        }
        close(fd);
        unlink(path);
    }
    printf("failures: %d\n", failures);
    return failures != 0;
}
