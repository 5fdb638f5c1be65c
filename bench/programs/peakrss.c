/* Peak resident set size of a whole command.
 *
 *   peakrss COMMAND [ARGS...]
 *
 * Runs COMMAND (fork + execvp; its stdin/stdout/stderr are ours), waits for
 * it with wait4 and prints to stderr one line
 *   "peakrss: maxrss_kb=K status=S"
 * where K is ru_maxrss: the largest RSS of the child over its life, or of any
 * descendant it waited for (a maximum over the tree, not a sum). Exits with
 * the command's status (128+signal if it was killed, 127 if exec failed). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s COMMAND [ARGS...]\n", argv[0]);
        return 2;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        perror("peakrss: fork");
        return 2;
    }
    if (pid == 0) {
        execvp(argv[1], argv + 1);
        fprintf(stderr, "peakrss: exec %s: %s\n", argv[1], strerror(errno));
        _exit(127);
    }
    int st;
    struct rusage ru;
    pid_t r;
    do
        r = wait4(pid, &st, 0, &ru);
    while (r < 0 && errno == EINTR);
    if (r < 0) {
        perror("peakrss: wait4");
        return 2;
    }
    int code = WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : 2;
    fprintf(stderr, "peakrss: maxrss_kb=%ld status=%d\n", ru.ru_maxrss, code);
    return code;
}
