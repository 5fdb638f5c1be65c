// exit_code: exits with the status given in argv[1]; proves exit_group's status reaches the host.
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: exit_code STATUS\n");
        return 2;
    }
    exit(atoi(argv[1]));
}
