/* /proc/self/maps names the files behind mappings: the program's own
 * segments, the C library's (a shared library mapped by the dynamic loader
 * with mmap), the dynamic loader's own, and a file the program maps itself;
 * with each file's device and inode and the file offset of the mapping, so
 * that the bytes at an address are the file's bytes at the offset shown. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "checks.h"

struct line {
    unsigned long start, end, offset, ino;
    unsigned dev_major, dev_minor;
    char perms[5];
    char path[512];
};

static char maps[1 << 16];
static int nlines;
static struct line lines[256];

static void load_maps(void) {
    int fd = open("/proc/self/maps", O_RDONLY);
    if (fd < 0) fatal("open /proc/self/maps");
    size_t len = 0;
    ssize_t n;
    while ((n = read(fd, maps + len, sizeof maps - 1 - len)) > 0) len += (size_t)n;
    close(fd);
    maps[len] = 0;
    nlines = 0;
    for (char *p = maps; *p && nlines < 256;) {
        char *nl = strchr(p, '\n');
        if (nl) *nl = 0;
        struct line *l = &lines[nlines];
        int used = 0;
        l->path[0] = 0;
        if (sscanf(p, "%lx-%lx %4s %lx %x:%x %lu %n", &l->start, &l->end, l->perms, &l->offset,
                   &l->dev_major, &l->dev_minor, &l->ino, &used) >= 7) {
            snprintf(l->path, sizeof l->path, "%s", p + used);
            nlines++;
        }
        if (!nl) break;
        p = nl + 1;
    }
}

static struct line *line_of(const void *addr) {
    unsigned long a = (unsigned long)addr;
    for (int i = 0; i < nlines; i++)
        if (a >= lines[i].start && a < lines[i].end) return &lines[i];
    return NULL;
}

/* The bytes at addr are the named file's at the offset the line gives. */
static int bytes_match(const struct line *l, const void *addr, size_t n) {
    int fd = open(l->path, O_RDONLY);
    if (fd < 0) return 0;
    unsigned char buf[64];
    off_t off = (off_t)(l->offset + ((unsigned long)addr - l->start));
    int ok = pread(fd, buf, n, off) == (ssize_t)n && memcmp(buf, addr, n) == 0;
    close(fd);
    return ok;
}

/* The device and inode shown are the named file's. */
static int identity_matches(const struct line *l) {
    struct stat st;
    if (stat(l->path, &st) != 0) return 0;
    return st.st_ino == l->ino && major(st.st_dev) == l->dev_major &&
           minor(st.st_dev) == l->dev_minor;
}

static const char *base_name(const char *p) {
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

int main(void) {
    char exe[512];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) fatal("readlink /proc/self/exe");
    exe[n] = 0;

    load_maps();
    struct line *m = line_of((const void *)&main);
    check("main's mapping names the program", m && strcmp(m->path, exe) == 0);
    check("and is r-xp", m && strcmp(m->perms, "r-xp") == 0);
    check("its file offset holds main's bytes", m && bytes_match(m, (const void *)&main, 32));
    check("its device and inode are the program's", m && identity_matches(m));

    /* printf: in the C library when it is shared, else in the program. */
    const void *pf = (const void *)&printf;
    struct line *c = line_of(pf);
    unsigned long base = getauxval(AT_BASE);
    int shared_libc = c && strcmp(c->path, exe) != 0;
    check("printf's mapping is named", c && c->path[0] == '/');
    if (shared_libc) {
        check("a shared C library: a libc or musl loader file",
              strstr(base_name(c->path), "libc") || strstr(base_name(c->path), "musl"));
        check("its offset holds printf's bytes", bytes_match(c, pf, 32));
        check("its device and inode are the library's", identity_matches(c));
    }
    if (base) {
        struct line *ld = line_of((const void *)base);
        check("the dynamic loader's first page is named", ld && ld->path[0] == '/');
        check("at offset 0", ld && ld->offset == 0);
        check("holding its ELF header", ld && bytes_match(ld, (const void *)base, 64));
    }

    /* A file this program maps: named, offset shown, gone after munmap. */
    char tmp[] = "/tmp/maps_files.XXXXXX";
    int fd = mkstemp(tmp);
    if (fd < 0) fatal("mkstemp");
    static char page[4096 * 3];
    for (size_t i = 0; i < sizeof page; i++) page[i] = (char)(i * 7 + i / 4096);
    if (write(fd, page, sizeof page) != (ssize_t)sizeof page) fatal("write");
    char *p = mmap(NULL, 8192, PROT_READ, MAP_PRIVATE, fd, 4096);
    if (p == MAP_FAILED) fatal("mmap");
    char real[512];
    if (!realpath(tmp, real)) fatal("realpath");
    load_maps();
    struct line *f = line_of(p);
    check("a private file mapping is named", f && strcmp(f->path, real) == 0);
    check("with its file offset 4096", f && f->offset == 4096 && f->start == (unsigned long)p);
    check("and its bytes", f && bytes_match(f, p + 4096, 64));
    /* Unmapping the first page leaves the second, now at offset 8192. */
    munmap(p, 4096);
    load_maps();
    f = line_of(p + 4096);
    check("after a partial munmap the rest shows offset 8192", f && f->offset == 8192);
    check("unmapped memory is in no line", line_of(p) == NULL);
    munmap(p + 4096, 4096);
    close(fd);
    unlink(tmp);

    /* Anonymous memory has no name. */
    char *a = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    load_maps();
    struct line *al = line_of(a);
    check("anonymous memory is unnamed", al && al->path[0] == 0 && al->ino == 0);

    if (failures) return 1;
    puts("all maps checks passed");
    return 0;
}
