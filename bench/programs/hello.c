/* Static hello for the startup benchmark: the smallest real program, printed
 * through stdio so glibc's usual start-up (TLS, IRELATIVE relocs, stdio) runs. */
#include <stdio.h>

int main(void)
{
    printf("hello from mote bench\n");
    return 0;
}
