// hello: the first program mote runs. Proves argv, envp and stdout reach the guest intact.
// Prints only things that are the same natively and under mote: argv[0] is shown by basename,
// and of the environment only MOTE_TEST's value and whether HOME/PATH are set.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *base_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

int main(int argc, char **argv) {
    printf("hello from a mote guest\n");
    printf("argc=%d\n", argc);
    printf("argv[0] basename=%s\n", argc > 0 ? base_name(argv[0]) : "(none)");
    for (int i = 1; i < argc; i++) printf("argv[%d]=\"%s\"\n", i, argv[i]);
    printf("argv[argc] is %s\n", argv[argc] == NULL ? "NULL" : "not NULL");

    const char *test = getenv("MOTE_TEST");
    if (test) printf("MOTE_TEST=%s\n", test);
    else printf("MOTE_TEST unset\n");
    printf("HOME is %s\n", getenv("HOME") ? "set" : "unset");
    printf("PATH is %s\n", getenv("PATH") ? "set" : "unset");
    return 0;
}
