// etc_files: the user, group and host databases through libc (getpwuid,
// getgrgid, getaddrinfo("localhost")). mote generates /etc/passwd, group and
// hosts when the image has none; the answers match the host's for these.
#include <arpa/inet.h>
#include <grp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

int main(void) {
    int failures = 0;
    struct passwd* pw = getpwuid(0);
    if (pw) printf("getpwuid(0): %s uid %d dir %s\n", pw->pw_name, (int)pw->pw_uid, pw->pw_dir);
    else printf("getpwuid(0): FAIL\n"), failures++;
    struct passwd* byname = getpwnam("root");
    printf("getpwnam(root): %s\n", byname && byname->pw_uid == 0 ? "uid 0" : "FAIL");
    if (!byname) failures++;
    struct group* gr = getgrgid(0);
    if (gr) printf("getgrgid(0): %s\n", gr->gr_name);
    else printf("getgrgid(0): FAIL\n"), failures++;
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo("localhost", NULL, &hints, &res);
    if (rc == 0 && res) {
        char buf[INET_ADDRSTRLEN];
        struct sockaddr_in* sin = (struct sockaddr_in*)res->ai_addr;
        printf("getaddrinfo(localhost): %s\n", inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof buf));
        freeaddrinfo(res);
    } else {
        printf("getaddrinfo(localhost): FAIL %d\n", rc);
        failures++;
    }
    return failures ? 1 : 0;
}
