// processes: fork, pipes between parent and child, waitpid statuses (exit
// codes and signals), execve of this very program, dup2 redirection, vfork,
// getppid, and writes by the child invisible to the parent's memory.
// Differential: the same output natively and under mote.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static int failures;

static void check(const char* what, int ok) {
    printf("%s: %s\n", what, ok ? "ok" : "FAIL");
    if (!ok) failures++;
}

static int global_counter = 10;

int main(int argc, char** argv) {
    if (argc >= 2 && strcmp(argv[1], "child") == 0) {
        // Started by execve below: report and exit with the code given.
        printf("exec'd child: argc %d, arg %s, env MOTE_TEST=%s\n", argc, argv[2],
               getenv("MOTE_TEST") ? getenv("MOTE_TEST") : "(unset)");
        fflush(stdout);
        return atoi(argv[2]);
    }
    setvbuf(stdout, NULL, _IONBF, 0);

    // fork + exit status + memory isolation.
    pid_t pid = fork();
    if (pid == 0) {
        global_counter = 99;
        _exit(42);
    }
    int st = 0;
    check("fork returns a positive pid", pid > 0);
    check("waitpid returns that pid", waitpid(pid, &st, 0) == pid);
    check("child exit status 42", WIFEXITED(st) && WEXITSTATUS(st) == 42);
    check("child's writes stay in the child", global_counter == 10);
    check("no more children: ECHILD", waitpid(-1, &st, WNOHANG) == -1 && errno == ECHILD);

    // A pipe from child to parent.
    int p[2];
    check("pipe", pipe(p) == 0);
    pid = fork();
    if (pid == 0) {
        close(p[0]);
        char msg[64];
        int n = snprintf(msg, sizeof msg, "ppid matches: %d", getppid() > 0);
        write(p[1], msg, (size_t)n);
        _exit(0);
    }
    close(p[1]);
    char buf[128] = {0};
    ssize_t got = read(p[0], buf, sizeof buf - 1);
    check("read what the child wrote", got > 0 && strcmp(buf, "ppid matches: 1") == 0);
    check("then EOF", read(p[0], buf, sizeof buf) == 0);
    close(p[0]);
    waitpid(pid, &st, 0);

    // A child killed by a signal.
    pid = fork();
    if (pid == 0) {
        raise(SIGTERM);
        _exit(1);
    }
    waitpid(pid, &st, 0);
    check("child killed by SIGTERM", WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);

    // dup2 onto stdout in the child, then execve this program.
    char path[] = "/tmp/mote-processes-XXXXXX";
    int fd = mkstemp(path);
    check("mkstemp", fd >= 0);
    pid = fork();
    if (pid == 0) {
        dup2(fd, 1);
        char* args[] = {argv[0], "child", "7", NULL};
        char* env[] = {"MOTE_TEST=yes", NULL};
        execve("/proc/self/exe", args, env);
        _exit(127);
    }
    waitpid(pid, &st, 0);
    check("exec'd child exited 7", WIFEXITED(st) && WEXITSTATUS(st) == 7);
    char out[256] = {0};
    pread(fd, out, sizeof out - 1, 0);
    printf("file from the exec'd child: %s", out);
    close(fd);
    unlink(path);

    // vfork + _exit.
    pid = vfork();
    if (pid == 0) _exit(5);
    waitpid(pid, &st, 0);
    check("vfork child exit status 5", WIFEXITED(st) && WEXITSTATUS(st) == 5);

    // execve of a missing program fails in the caller.
    pid = fork();
    if (pid == 0) {
        char* args[] = {"/nonexistent", NULL};
        execve("/nonexistent", args, NULL);
        _exit(errno == ENOENT ? 11 : 12);
    }
    waitpid(pid, &st, 0);
    check("execve of a missing file: ENOENT", WIFEXITED(st) && WEXITSTATUS(st) == 11);

    // Nested: a child that forks a grandchild.
    pid = fork();
    if (pid == 0) {
        pid_t g = fork();
        if (g == 0) _exit(3);
        int gs;
        waitpid(g, &gs, 0);
        _exit(WEXITSTATUS(gs) + 1);
    }
    waitpid(pid, &st, 0);
    check("grandchild status passed up", WIFEXITED(st) && WEXITSTATUS(st) == 4);

    printf("processes: %s\n", failures ? "FAIL" : "ok");
    return failures ? 1 : 0;
}
