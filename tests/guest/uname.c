// uname: the guest sees a Linux x86_64 system with a plausible release string.
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

static int failures;

static void check(const char *what, int ok) {
    printf("%s: %s\n", what, ok ? "ok" : "FAIL");
    if (!ok) failures++;
}

// "N.N" at the start: digits, a dot, digits (e.g. "6.1.0-18-amd64" or "5.15").
static int release_parses(const char *r) {
    const char *p = r;
    if (!isdigit((unsigned char)*p)) return 0;
    while (isdigit((unsigned char)*p)) p++;
    if (*p++ != '.') return 0;
    return isdigit((unsigned char)*p);
}

int main(void) {
    struct utsname u;
    if (uname(&u) != 0) {
        printf("uname: FAIL (call failed)\n");
        return 1;
    }
    printf("sysname=%s\n", u.sysname);
    printf("machine=%s\n", u.machine);
    check("sysname is Linux", strcmp(u.sysname, "Linux") == 0);
    check("machine is x86_64", strcmp(u.machine, "x86_64") == 0);
    check("release is non-empty", u.release[0] != '\0');
    check("release parses as N.N", release_parses(u.release));
    check("version is non-empty", u.version[0] != '\0');
    check("nodename is non-empty", u.nodename[0] != '\0');
    printf(failures ? "uname: FAIL\n" : "uname: ok\n");
    return failures ? 1 : 0;
}
