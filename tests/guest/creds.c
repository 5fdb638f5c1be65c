// Credentials: the set*id family and supplementary groups, as root dropping
// to a user the way servers do (nginx: setgid, setgroups, setuid www-data),
// and the rules for an unprivileged process. Each case runs in a forked
// child, so every one starts as root. Run natively (as root) and under mote.
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <sys/fsuid.h>
#include <sys/wait.h>
#include <unistd.h>

#include "checks.h"

static void show(const char *when) {
    uid_t r, e, s;
    gid_t rg, eg, sg;
    getresuid(&r, &e, &s);
    getresgid(&rg, &eg, &sg);
    printf("%s: uid %u/%u/%u gid %u/%u/%u\n", when, r, e, s, rg, eg, sg);
}

static void in_child(void (*fn)(void)) {
    fflush(stdout);
    pid_t p = fork();
    if (p == 0) {
        fn();
        fflush(stdout);
        _exit(failures ? 1 : 0);
    }
    int st = 0;
    waitpid(p, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) failures++;
}

static void drop_like_a_server(void) {
    gid_t g[2] = {33, 34};
    check("setgroups(2) as root", setgroups(2, g) == 0);
    gid_t out[8] = {0};
    int n = getgroups(8, out);
    check("getgroups returns them", n == 2 && out[0] == 33 && out[1] == 34);
    check_value("getgroups(0) counts them", getgroups(0, NULL), 2);
    errno = 0;
    check("getgroups with too small a buffer: EINVAL", getgroups(1, out) == -1 && errno == EINVAL);
    check("setgid(33)", setgid(33) == 0);
    check("setuid(33)", setuid(33) == 0);
    show("after setgid/setuid 33");
    errno = 0;
    check("back to root with setuid(0): EPERM", setuid(0) == -1 && errno == EPERM);
    errno = 0;
    check("setgroups unprivileged: EPERM", setgroups(0, NULL) == -1 && errno == EPERM);
    check("setuid to its own id is allowed", setuid(33) == 0);
}

static void effective_only(void) {
    check("setreuid(-1, 33): effective only", setreuid(-1, 33) == 0);
    show("after setreuid(-1, 33)");
    check("geteuid 33, getuid 0", geteuid() == 33 && getuid() == 0);
    check("seteuid back to the real id 0", seteuid(0) == 0);
    show("after seteuid(0)");
}

static void res_rules(void) {
    check("setresuid(1000, 33, 0)", setresuid(1000, 33, 0) == 0);
    show("after setresuid(1000, 33, 0)");
    check("unprivileged: setresuid(-1, 0, -1) (0 is the saved id)", setresuid(-1, 0, -1) == 0);
    check("privileged again: setresuid(5, 5, 5)", setresuid(5, 5, 5) == 0);
    errno = 0;
    check("then setresuid(-1, 6, -1): EPERM", setresuid(-1, 6, -1) == -1 && errno == EPERM);
    check_value("setfsuid returns the previous fsuid", setfsuid(5), 5);
    check("setresgid as an unprivileged user: EPERM for a foreign gid",
          setresgid(7, -1, -1) == -1 && errno == EPERM);
    show("at the end");
}

static void gid_rules(void) {
    check("setregid(100, 200)", setregid(100, 200) == 0);
    show("after setregid(100, 200)");
    check("setresgid(-1, -1, 300)", setresgid(-1, -1, 300) == 0);
    show("after setresgid(-1, -1, 300)");
    check_value("setfsgid returns the previous fsgid", setfsgid(100), 200);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (getuid() != 0) {
        printf("not root: the credential checks need root\n");
        return 0;
    }
    show("start");
    in_child(drop_like_a_server);
    in_child(effective_only);
    in_child(res_rules);
    in_child(gid_rules);
    show("parent at the end");
    if (failures) {
        printf("%d checks failed\n", failures);
        return 1;
    }
    printf("all credential checks passed\n");
    return 0;
}
