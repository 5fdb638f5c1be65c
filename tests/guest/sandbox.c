// sandbox: raw system calls that reach for the host. Natively they succeed; under mote they must
// fail without ever reaching the host (the mote process is seccomp-sandboxed, so a call that
// leaked through would kill it): openat of a host file that is not in the guest's filesystem
// fails with ENOENT; socket(AF_INET) succeeds, served by mote's own network stack (kernel/net/)
// inside the sandbox, never by a host socket.
// Not differential: prints what happened and the harness checks the expected lines.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static void report(const char *name, long rc, int err) {
    if (rc >= 0) {
        printf("%s: ok fd\n", name);
        close((int)rc);
    } else {
        printf("%s: errno %d\n", name, err);
    }
}

int main(void) {
    errno = 0;
    long rc = syscall(SYS_openat, AT_FDCWD, "/etc/shadow", O_RDONLY);
    report("openat", rc, errno);
    errno = 0;
    rc = syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
    report("socket", rc, errno);
    return 0;
}
